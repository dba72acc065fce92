import CWebP

/// WebP through libwebp's WebPAnimDecoder, the API Pillow 11.3's WebPImagePlugin uses for every WebP file.
///
/// Pillow asks `WebPGetFeatures` for the alpha flag: with alpha the image opens as `RGBA` (composited on
/// white by `to_rgb`), without it as `RGB` (the decoder's RGBA output read as RGBX). Animated files yield
/// their first frame, as `Image.open` does.
enum WebPDecoder {
    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: ImageDecoder) throws -> RGBImage {
        guard let base = input.baseAddress else { throw MediaError.emptyInput }
        var features = WebPBitstreamFeatures()
        let status = WebPGetFeatures(base, input.count, &features)
        guard status == VP8_STATUS_OK else {
            if status == VP8_STATUS_NOT_ENOUGH_DATA || isShorterThanRIFF(input) {
                throw MediaError.truncated(format: .webp, detail: "header incomplete (\(input.count) bytes)")
            }
            throw MediaError.corrupt(format: .webp, detail: "invalid bitstream header (VP8 status \(status.rawValue))")
        }
        try limits.checkSize(width: Int(features.width), height: Int(features.height))

        var data = WebPData(bytes: base, size: input.count)
        var options = WebPAnimDecoderOptions()
        guard WebPAnimDecoderOptionsInit(&options) != 0 else { throw MediaError.outOfMemory(format: .webp) }
        options.color_mode = MODE_RGBA
        options.use_threads = 0
        guard let decoder = WebPAnimDecoderNew(&data, &options) else {
            if isShorterThanRIFF(input) {
                throw MediaError.truncated(format: .webp, detail: "the RIFF header announces more data than present")
            }
            throw MediaError.corrupt(format: .webp, detail: "libwebp could not parse the file")
        }
        defer { WebPAnimDecoderDelete(decoder) }
        var info = WebPAnimInfo()
        guard WebPAnimDecoderGetInfo(decoder, &info) != 0 else {
            throw MediaError.corrupt(format: .webp, detail: "libwebp could not read the canvas information")
        }
        let width = Int(info.canvas_width), height = Int(info.canvas_height)
        try limits.checkSize(width: width, height: height)

        var frame: UnsafeMutablePointer<UInt8>?
        var timestamp: Int32 = 0
        guard WebPAnimDecoderGetNext(decoder, &frame, &timestamp) != 0, let rgba = frame else {
            if isShorterThanRIFF(input) {
                throw MediaError.truncated(format: .webp, detail: "image data incomplete")
            }
            throw MediaError.corrupt(format: .webp, detail: "libwebp could not decode the first frame")
        }
        let pixelCount = width * height
        let buffer = UnsafeBufferPointer(start: rgba, count: pixelCount * 4)
        if features.has_alpha != 0 {
            return RGBImage(uncheckedWidth: width, height: height,
                            pixels: AlphaCompositing.rgbaOnWhite(buffer, pixelCount: pixelCount))
        }
        let rgb = [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
            for i in 0..<pixelCount {
                out[i * 3] = buffer[i * 4]
                out[i * 3 + 1] = buffer[i * 4 + 1]
                out[i * 3 + 2] = buffer[i * 4 + 2]
            }
            initialized = pixelCount * 3
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: rgb)
    }

    /// True when the RIFF size field announces more bytes than the input holds.
    private static func isShorterThanRIFF(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        guard input.count >= 8 else { return true }
        let size = UInt32(input[4]) | UInt32(input[5]) << 8 | UInt32(input[6]) << 16 | UInt32(input[7]) << 24
        return UInt64(input.count) < UInt64(size) + 8
    }
}

import CJPEGTurbo

/// JPEG through libjpeg-turbo's TurboJPEG API, set up the way Pillow's JpegDecode.c drives libjpeg.
///
/// Pillow keeps libjpeg's defaults: accurate integer IDCT (JDCT_ISLOW), fancy (smooth) chroma upsampling,
/// and the colour space libjpeg infers from JFIF/Adobe markers. One component opens as `L` (RGB = grey
/// replicated), three as `RGB`, four as `CMYK` with rawmode `CMYK;I`: Pillow always assumes Adobe's inverted
/// CMYK, then `convert("RGB")` applies `cmyk2rgb` (`nk = 255 − k; out = clip(nk − MULDIV255(c, nk))`).
/// libjpeg warnings (e.g. extraneous bytes) are tolerated like Pillow; premature end of data is an error,
/// as Pillow raises "image file is truncated".
enum JPEGDecoder {
    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: ImageDecoder) throws -> RGBImage {
        guard let base = input.baseAddress else { throw MediaError.emptyInput }
        guard let handle = tjInitDecompress() else { throw MediaError.outOfMemory(format: .jpeg) }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, base, UInt(input.count), &width, &height, &subsampling, &colorspace) != 0 {
            throw failure(handle)
        }
        guard width > 0, height > 0 else {
            // libjpeg stopped before a frame header (SOF), typically because the data ended.
            let message = errorMessage(handle)
            if isTruncation(message) || message.isEmpty || message == "No error" {
                throw MediaError.truncated(format: .jpeg, detail: "no frame header (SOF) before the end of the data")
            }
            throw MediaError.corrupt(format: .jpeg, detail: message)
        }
        try limits.checkSize(width: Int(width), height: Int(height))
        let pixelCount = Int(width) * Int(height)
        let flags = Int32(TJFLAG_ACCURATEDCT)

        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            var cmyk = [UInt8](repeating: 0, count: pixelCount * 4)
            let status = cmyk.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, base, UInt(input.count), out.baseAddress, width, 0, height,
                              Int32(TJPF_CMYK.rawValue), flags)
            }
            if status != 0 { try checkWarning(handle) }
            let rgb = [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
                for i in 0..<pixelCount {
                    // "CMYK;I": Pillow inverts every stored sample, then converts with cmyk2rgb.
                    let nk = 255 - Int32(255 - cmyk[i * 4 + 3])
                    for c in 0..<3 {
                        let v = Int32(255 - cmyk[i * 4 + c])
                        let t = v * nk + 128
                        let mul = ((t >> 8) + t) >> 8
                        out[i * 3 + c] = UInt8(clamping: nk - mul)
                    }
                }
                initialized = pixelCount * 3
            }
            return RGBImage(uncheckedWidth: Int(width), height: Int(height), pixels: rgb)
        }

        // Greyscale decodes straight to RGB: libjpeg replicates the grey value, as convert("RGB") does for L.
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        let status = rgb.withUnsafeMutableBufferPointer { out in
            tjDecompress2(handle, base, UInt(input.count), out.baseAddress, width, 0, height,
                          Int32(TJPF_RGB.rawValue), flags)
        }
        if status != 0 { try checkWarning(handle) }
        return RGBImage(uncheckedWidth: Int(width), height: Int(height), pixels: rgb)
    }

    /// Accepts libjpeg warnings except a premature end of data; throws for everything else.
    private static func checkWarning(_ handle: tjhandle) throws {
        let message = errorMessage(handle)
        if tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue), !isTruncation(message) { return }
        throw failure(handle)
    }

    private static func failure(_ handle: tjhandle) -> MediaError {
        let message = errorMessage(handle)
        if isTruncation(message) { return .truncated(format: .jpeg, detail: message) }
        if message.lowercased().contains("unsupported") {
            return .unsupportedFeature(format: .jpeg, detail: message)
        }
        return .corrupt(format: .jpeg, detail: message)
    }

    private static func isTruncation(_ message: String) -> Bool {
        message.lowercased().contains("premature end")
    }

    private static func errorMessage(_ handle: tjhandle) -> String {
        guard let cString = tjGetErrorStr2(handle) else { return "unknown libjpeg-turbo error" }
        return String(cString: cString)
    }
}

import CPNG
import Foundation

/// PNG through libpng, converted to RGB the way Pillow 11.3 opens each PNG type and `to_rgb` converts it.
///
/// Pillow's PngImagePlugin modes and what `to_rgb` then does (tRNS and gAMA are ignored in every case):
///
/// | PNG type           | Pillow mode | → RGB                                                    |
/// |--------------------|-------------|----------------------------------------------------------|
/// | grey 1             | `1`         | 0 → 0, 1 → 255                                            |
/// | grey 2 / 4 / 8     | `L`         | v·0x55 / v·0x11 / v, replicated                           |
/// | grey 16            | `I;16`      | `I16_RGB`: v < 256 ? v : 255 (not v >> 8!), replicated    |
/// | RGB 8 / 16         | `RGB`       | samples / high bytes                                      |
/// | palette 1–8        | `P`         | PLTE lookup; indices past the PLTE are black              |
/// | grey+alpha 8       | `LA`        | grey replicated, alpha **dropped** (no compositing)       |
/// | grey+alpha 16      | `RGBA`      | high bytes, composited on white                           |
/// | RGBA 8 / 16        | `RGBA`      | samples / high bytes, composited on white                 |
enum PNGDecoder {
    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: ImageDecoder) throws -> RGBImage {
        guard let base = input.baseAddress else { throw MediaError.emptyInput }
        // IHDR sits at a fixed place: check the claimed size before libpng allocates anything for rows.
        if input.count >= 24, Array(input[12..<16]) == Array("IHDR".utf8) {
            let width = Int(readBE32(input, 16)), height = Int(readBE32(input, 20))
            try limits.checkSize(width: width, height: height)
        }

        var info = qvl_png_info()
        var raw: UnsafeMutablePointer<UInt8>?
        let status = qvl_png_decode(base, input.count, UInt64(max(0, limits.maxPixels)), &info, &raw)
        defer { free(raw) }
        switch Int(status) {
        case QVL_PNG_OK: break
        case QVL_PNG_TOO_LARGE:
            throw MediaError.tooLarge(width: Int(info.width), height: Int(info.height), maxPixels: limits.maxPixels)
        case QVL_PNG_NO_MEMORY:
            throw MediaError.outOfMemory(format: .png)
        default:
            let message = withUnsafeBytes(of: info.message) { buffer in
                String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            }
            if message.contains("truncated") || message.contains("Not enough image data")
                || message.contains("Read Error") {
                throw MediaError.truncated(format: .png, detail: message)
            }
            throw MediaError.corrupt(format: .png, detail: message)
        }
        guard let rows = raw else { throw MediaError.outOfMemory(format: .png) }

        let width = Int(info.width), height = Int(info.height)
        try limits.checkSize(width: width, height: height)
        let rowBytes = Int(info.row_bytes)
        let bitDepth = Int(info.bit_depth)
        let palette = withUnsafeBytes(of: info.palette) { Array($0) }
        let paletteCount = Int(info.num_palette)

        // Byte `offset` of output row `y` (16-bit samples are two big-endian bytes; the first is the high byte).
        func byte(_ y: Int, _ offset: Int) -> UInt8 { rows[y * rowBytes + offset] }

        switch Int(info.color_type) {
        case 0:  // grey
            return makeRGB(width, height) { y, x in
                let v: UInt8
                switch bitDepth {
                case 1: v = byte(y, x) != 0 ? 255 : 0
                case 2: v = byte(y, x) &* 0x55
                case 4: v = byte(y, x) &* 0x11
                case 8: v = byte(y, x)
                default: v = byte(y, 2 * x) == 0 ? byte(y, 2 * x + 1) : 255  // I;16 → RGB clips to 255
                }
                return (v, v, v)
            }
        case 2:  // RGB
            let step = bitDepth == 16 ? 2 : 1
            return makeRGB(width, height) { y, x in
                let o = x * 3 * step
                return (byte(y, o), byte(y, o + step), byte(y, o + 2 * step))
            }
        case 3:  // palette
            return makeRGB(width, height) { y, x in
                let index = Int(byte(y, x))
                guard index < paletteCount else { return (0, 0, 0) }
                return (palette[index * 3], palette[index * 3 + 1], palette[index * 3 + 2])
            }
        case 4 where bitDepth == 8:  // LA: convert("RGB") drops alpha
            return makeRGB(width, height) { y, x in
                let v = byte(y, x * 2)
                return (v, v, v)
            }
        case 4:  // 16-bit grey+alpha opens as RGBA
            return makeRGB(width, height) { y, x in
                let v = AlphaCompositing.onWhite(byte(y, x * 4), alpha: byte(y, x * 4 + 2))
                return (v, v, v)
            }
        case 6:  // RGBA
            let step = bitDepth == 16 ? 2 : 1
            return makeRGB(width, height) { y, x in
                let o = x * 4 * step
                let a = byte(y, o + 3 * step)
                return (AlphaCompositing.onWhite(byte(y, o), alpha: a),
                        AlphaCompositing.onWhite(byte(y, o + step), alpha: a),
                        AlphaCompositing.onWhite(byte(y, o + 2 * step), alpha: a))
            }
        default:
            throw MediaError.corrupt(format: .png, detail: "unknown colour type \(info.color_type)")
        }
    }

    /// Builds an RGB image by evaluating `pixel(y, x)` in raster order.
    @inline(__always)
    private static func makeRGB(_ width: Int, _ height: Int,
                                _ pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) -> RGBImage {
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { out, initialized in
            var i = 0
            for y in 0..<height {
                for x in 0..<width {
                    let (r, g, b) = pixel(y, x)
                    out[i] = r
                    out[i + 1] = g
                    out[i + 2] = b
                    i += 3
                }
            }
            initialized = width * height * 3
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: pixels)
    }

    private static func readBE32(_ p: UnsafeBufferPointer<UInt8>, _ offset: Int) -> UInt32 {
        UInt32(p[offset]) << 24 | UInt32(p[offset + 1]) << 16 | UInt32(p[offset + 2]) << 8 | UInt32(p[offset + 3])
    }
}

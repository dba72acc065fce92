/// BMP, decoded in Swift following Pillow 11.3's BmpImagePlugin.
///
/// Supported as Pillow reads them: OS/2 v1 and Windows v3–v5 headers; 1/4/8-bit palette (BGRX or BGR
/// entries; indices past the palette give black), 16-bit 5-5-5 / 5-6-5, 24-bit BGR, 32-bit; bottom-up and
/// top-down rows. Quirks kept: a plain (BI_RGB) 32-bit file is read as BGRX, its fourth byte ignored; with
/// BI_BITFIELDS the masks choose the byte layout, and layouts with an alpha mask (or all-zero masks) open
/// as RGBA and are composited on white. RLE-compressed files are refused (Pillow reads them; rare).
enum BMPDecoder {
    private enum Layout { case palette(bits: Int), rgb555, rgb565, bgr24, bytes32(r: Int, g: Int, b: Int, a: Int?) }

    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: ImageDecoder) throws -> RGBImage {
        guard input.count >= 18 else { throw truncated("the file header") }
        let dataOffset = Int(input.le32(at: 10))
        let headerSize = Int(input.le32(at: 14))
        guard input.count >= 14 + headerSize else { throw truncated("the \(headerSize)-byte info header") }

        var width = 0, height = 0, bits = 0, compression = 0, colors = 0, paletteEntrySize = 4
        var topDown = false
        var masks: (r: UInt32, g: UInt32, b: UInt32, a: UInt32)?
        var paletteStart = 14 + headerSize
        switch headerSize {
        case 12:
            width = Int(input.le16(at: 18))
            height = Int(input.le16(at: 20))
            bits = Int(input.le16(at: 24))
            paletteEntrySize = 3
        case 40, 52, 56, 64, 108, 124:
            width = Int(input.le32(at: 18))
            let rawHeight = input.le32(at: 22)
            topDown = input[25] == 0xFF
            height = topDown ? Int((1 << 32) - UInt64(rawHeight)) : Int(rawHeight)
            bits = Int(input.le16(at: 28))
            compression = Int(input.le32(at: 30))
            colors = Int(input.le32(at: 46))
            if compression == 3 {  // BI_BITFIELDS
                if headerSize >= 52 {
                    let a: UInt32 = headerSize >= 56 ? input.le32(at: 66) : 0
                    masks = (input.le32(at: 54), input.le32(at: 58), input.le32(at: 62), a)
                } else {
                    guard input.count >= 66 else { throw truncated("the bit-field masks") }
                    masks = (input.le32(at: 54), input.le32(at: 58), input.le32(at: 62), 0)
                    paletteStart += 12
                }
            }
        default:
            throw MediaError.unsupportedFeature(format: .bmp, detail: "header type of \(headerSize) bytes")
        }
        try limits.checkSize(width: width, height: height)
        if colors == 0 { colors = 1 << min(bits, 30) }

        let layout: Layout
        switch (bits, compression) {
        case (1, 0), (4, 0), (8, 0): layout = .palette(bits: bits)
        case (16, 0): layout = .rgb555
        case (24, 0): layout = .bgr24
        case (32, 0): layout = .bytes32(r: 2, g: 1, b: 0, a: nil)  // BGRX
        case (_, 3):
            guard let m = masks, let chosen = bitfieldLayout(bits: bits, masks: m) else {
                throw MediaError.unsupportedFeature(format: .bmp, detail: "bit-field layout for \(bits)-bit pixels")
            }
            layout = chosen
        case (_, 1), (_, 2):
            throw MediaError.unsupportedFeature(format: .bmp, detail: "RLE compression")
        case (1, _), (4, _), (8, _), (16, _), (24, _), (32, _):
            throw MediaError.unsupportedFeature(format: .bmp, detail: "compression type \(compression)")
        default:
            throw MediaError.unsupportedFeature(format: .bmp, detail: "pixel depth \(bits)")
        }

        var palette = [UInt8](repeating: 0, count: 256 * 3)
        var offset = dataOffset
        if case .palette = layout {
            guard colors > 0, colors <= 65536 else {
                throw MediaError.corrupt(format: .bmp, detail: "palette size \(colors)")
            }
            if offset == 14 + headerSize { offset += 4 * colors }  // Pillow's fix-up for a bad data offset
            let size = paletteEntrySize * colors
            guard paletteStart + size <= input.count else { throw truncated("the palette") }
            for i in 0..<min(colors, 256) {
                let p = paletteStart + i * paletteEntrySize
                palette[i * 3] = input[p + 2]
                palette[i * 3 + 1] = input[p + 1]
                palette[i * 3 + 2] = input[p]
            }
        }

        let stride = ((width * bits + 31) >> 3) & ~3
        guard offset >= 0, offset <= input.count, stride <= (input.count - offset) / max(height, 1),
              offset + stride * height <= input.count else {
            throw truncated("the pixel data (\(height) rows of \(stride) bytes from byte \(offset))")
        }
        let paletteCount = min(colors, 256)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            for row in 0..<height {
                let src = offset + (topDown ? row : height - 1 - row) * stride
                var o = row * width * 3
                for x in 0..<width {
                    var r: UInt8 = 0, g: UInt8 = 0, b: UInt8 = 0
                    switch layout {
                    case .palette(let bits):
                        let bitOffset = x * bits
                        let byte = input[src + bitOffset >> 3]
                        let index = Int(byte >> UInt8(8 - bits - bitOffset & 7)) & ((1 << bits) - 1)
                        if index < paletteCount {
                            (r, g, b) = (palette[index * 3], palette[index * 3 + 1], palette[index * 3 + 2])
                        }
                    case .rgb555:
                        let v = Int(input.le16(at: src + 2 * x))
                        (r, g, b) = (scale5((v >> 10) & 31), scale5((v >> 5) & 31), scale5(v & 31))
                    case .rgb565:
                        let v = Int(input.le16(at: src + 2 * x))
                        (r, g, b) = (scale5((v >> 11) & 31), UInt8(((v >> 5) & 63) * 255 / 63), scale5(v & 31))
                    case .bgr24:
                        (r, g, b) = (input[src + 3 * x + 2], input[src + 3 * x + 1], input[src + 3 * x])
                    case .bytes32(let ri, let gi, let bi, let ai):
                        let p = src + 4 * x
                        (r, g, b) = (input[p + ri], input[p + gi], input[p + bi])
                        if let ai {
                            let a = input[p + ai]
                            r = AlphaCompositing.onWhite(r, alpha: a)
                            g = AlphaCompositing.onWhite(g, alpha: a)
                            b = AlphaCompositing.onWhite(b, alpha: a)
                        }
                    }
                    out[o] = r
                    out[o + 1] = g
                    out[o + 2] = b
                    o += 3
                }
            }
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: rgb)
    }

    /// Pillow's SUPPORTED / MASK_MODES tables: byte positions of R, G, B (and A) inside a 32-bit pixel.
    private static func bitfieldLayout(bits: Int, masks m: (r: UInt32, g: UInt32, b: UInt32, a: UInt32)) -> Layout? {
        switch (bits, m.r, m.g, m.b, m.a) {
        case (32, 0xFF0000, 0xFF00, 0xFF, 0): return .bytes32(r: 2, g: 1, b: 0, a: nil)            // BGRX
        case (32, 0xFF00_0000, 0xFF0000, 0xFF00, 0): return .bytes32(r: 3, g: 2, b: 1, a: nil)     // XBGR
        case (32, 0xFF00_0000, 0xFF00, 0xFF, 0): return .bytes32(r: 3, g: 1, b: 0, a: nil)         // BGXR
        case (32, 0xFF00_0000, 0xFF0000, 0xFF00, 0xFF): return .bytes32(r: 3, g: 2, b: 1, a: 0)    // ABGR
        case (32, 0xFF, 0xFF00, 0xFF0000, 0xFF00_0000): return .bytes32(r: 0, g: 1, b: 2, a: 3)    // RGBA
        case (32, 0xFF0000, 0xFF00, 0xFF, 0xFF00_0000): return .bytes32(r: 2, g: 1, b: 0, a: 3)    // BGRA
        case (32, 0xFF00_0000, 0xFF00, 0xFF, 0xFF0000): return .bytes32(r: 3, g: 1, b: 0, a: 2)    // BGAR
        case (32, 0, 0, 0, 0): return .bytes32(r: 2, g: 1, b: 0, a: 3)                             // BGRA
        case (24, 0xFF0000, 0xFF00, 0xFF, _): return .bgr24
        case (16, 0xF800, 0x7E0, 0x1F, _): return .rgb565
        case (16, 0x7C00, 0x3E0, 0x1F, _): return .rgb555
        default: return nil
        }
    }

    /// Pillow's 5-bit expansion: `v · 255 / 31` (integer division).
    @inline(__always)
    private static func scale5(_ v: Int) -> UInt8 { UInt8(v * 255 / 31) }

    private static func truncated(_ what: String) -> MediaError {
        .truncated(format: .bmp, detail: "data ends inside \(what)")
    }
}

/// GIF, first frame, decoded in Swift to match Pillow 11.3's GifImagePlugin + GifDecode.c.
///
/// What Pillow does for frame 0, reproduced here:
/// - the canvas is the logical screen, enlarged when the first frame reaches past it;
/// - before decoding, the canvas is filled with the frame's transparency index if its Graphic Control
///   Extension sets one, else with index 0;
/// - the frame's pixels (interlaced or not) are all written, the transparent index included;
/// - the local colour table wins over the global one; a table that is exactly the grey ramp
///   (entry i = (i, i, i)) is dropped and the image opens as `L`, so pixel values are the indices;
/// - `convert("RGB")` then looks each index up in the table (indices past its end give black) and ignores
///   transparency.
enum GIFDecoder {
    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: ImageDecoder) throws -> RGBImage {
        var reader = ByteReader(input, format: .gif)
        let header = try reader.take(13, "the GIF header")
        var width = Int(header.le16(at: 6)), height = Int(header.le16(at: 8))
        let screenFlags = header[10]
        var globalPalette: [UInt8]?
        if screenFlags & 0x80 != 0 {
            let table = try reader.take(3 << (Int(screenFlags & 7) + 1), "the global colour table")
            globalPalette = isPaletteNeeded(table) ? Array(table) : nil
        }

        var transparency: UInt8?
        var frame: (left: Int, top: Int, width: Int, height: Int, interlaced: Bool)?
        var framePalette: [UInt8]?
        var minimumCodeSize = 0
        while frame == nil {
            guard !reader.isAtEnd else {
                throw MediaError.corrupt(format: .gif, detail: "no image descriptor before the end of the data")
            }
            switch try reader.u8("a block introducer") {
            case 0x3B:  // trailer
                throw MediaError.corrupt(format: .gif, detail: "the file ends (trailer) before any image")
            case 0x21:  // extension
                let label = try reader.u8("an extension label")
                let block = subBlock(&reader)
                if label == 0xFE {  // comment: Pillow reads sub-blocks while they are non-empty
                    var current = block
                    while current != nil { current = subBlock(&reader) }
                    continue
                }
                if label == 0xFF, let block, block.starts(with: Array("NETSCAPE2.0".utf8)) {
                    _ = subBlock(&reader)  // Pillow reads the loop-count sub-block separately
                }
                if label == 0xF9, let block {
                    guard block.count >= 4 else {
                        throw MediaError.corrupt(format: .gif, detail: "graphic control extension shorter than 4 bytes")
                    }
                    if block[0] & 1 != 0 { transparency = block[3] }
                }
                while subBlock(&reader) != nil {}  // as Pillow: skip the remaining sub-blocks
            case 0x2C:  // image descriptor
                let descriptor = try reader.take(9, "an image descriptor")
                let left = Int(descriptor.le16(at: 0)), top = Int(descriptor.le16(at: 2))
                let frameWidth = Int(descriptor.le16(at: 4)), frameHeight = Int(descriptor.le16(at: 6))
                let flags = descriptor[8]
                width = max(width, left + frameWidth)
                height = max(height, top + frameHeight)
                framePalette = globalPalette
                if flags & 0x80 != 0 {
                    let table = try reader.take(3 << (Int(flags & 7) + 1), "a local colour table")
                    framePalette = isPaletteNeeded(table) ? Array(table) : nil
                }
                minimumCodeSize = Int(try reader.u8("the LZW minimum code size"))
                frame = (left, top, frameWidth, frameHeight, flags & 0x40 != 0)
            default:
                continue  // Pillow skips stray bytes between blocks
            }
        }
        guard let frame else { throw MediaError.corrupt(format: .gif, detail: "no image") }
        try limits.checkSize(width: width, height: height)
        guard frame.width > 0, frame.height > 0 else {
            throw MediaError.corrupt(format: .gif, detail: "the first frame is empty (\(frame.width)×\(frame.height))")
        }

        // Canvas of palette indices, [height, width].
        var indices = [UInt8](repeating: transparency ?? 0, count: width * height)
        try indices.withUnsafeMutableBufferPointer { canvas in
            let lzw = try GIFLZWDecoder(minimumCodeSize: minimumCodeSize)
            try lzw.decode(from: &reader, into: canvas, canvasWidth: width,
                           left: frame.left, top: frame.top, width: frame.width, height: frame.height,
                           interlaced: frame.interlaced)
        }

        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { out, initialized in
            if let palette = framePalette {
                let entries = palette.count / 3
                for (i, index) in indices.enumerated() {
                    let k = Int(index)
                    if k < entries {
                        out[i * 3] = palette[k * 3]
                        out[i * 3 + 1] = palette[k * 3 + 1]
                        out[i * 3 + 2] = palette[k * 3 + 2]
                    } else {
                        out[i * 3] = 0
                        out[i * 3 + 1] = 0
                        out[i * 3 + 2] = 0
                    }
                }
            } else {
                for (i, index) in indices.enumerated() {
                    out[i * 3] = index
                    out[i * 3 + 1] = index
                    out[i * 3 + 2] = index
                }
            }
            initialized = width * height * 3
        }
        return RGBImage(uncheckedWidth: width, height: height, pixels: pixels)
    }

    /// Pillow's `GifImageFile.data()`: the next data sub-block, or nil at a zero-length block or end of data.
    /// A sub-block cut short by the end of data is returned shortened, as Python's `read` does.
    private static func subBlock(_ reader: inout ByteReader) -> UnsafeBufferPointer<UInt8>? {
        guard !reader.isAtEnd else { return nil }
        let size = Int(reader.bytes[reader.position])
        reader.position += 1
        guard size > 0 else { return nil }
        let count = min(size, reader.remaining)
        defer { reader.position += count }
        return UnsafeBufferPointer(rebasing: reader.bytes[reader.position..<reader.position + count])
    }

    /// Pillow's `_is_palette_needed`: false only for an exact grey ramp (entry i == (i, i, i)).
    private static func isPaletteNeeded(_ table: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i + 2 < table.count {
            let index = i / 3
            if !(index == Int(table[i]) && table[i] == table[i + 1] && table[i + 1] == table[i + 2]) { return true }
            i += 3
        }
        return false
    }
}

/// GIF's variable-width LZW decoder, a Swift port of Pillow's GifDecode.c (same error rules, same output).
///
/// Codes are read LSB-first from the data sub-blocks. After a clear code the table restarts at
/// `clear + 2` with `minimumCodeSize + 1` bits; the code size grows after entry `2^size − 1` is added, up to
/// 12 bits; once 4096 entries exist no more are added ("deferred clear"). A code may be at most `next`
/// (the KwKwK case). Decoding stops as soon as every row of the frame is written.
struct GIFLZWDecoder {
    private static let tableSize = 4096
    private let minimumCodeSize: Int
    private let clear: Int
    private let end: Int

    init(minimumCodeSize: Int) throws {
        guard (0...12).contains(minimumCodeSize) else {
            throw MediaError.corrupt(format: .gif, detail: "LZW minimum code size \(minimumCodeSize) is not in 0...12")
        }
        self.minimumCodeSize = minimumCodeSize
        self.clear = 1 << minimumCodeSize
        self.end = clear + 1
    }

    /// Decodes the frame's image data (sub-blocks starting at `reader.position`) into `canvas`
    /// (`[canvasHeight, canvasWidth]` indices) at rows `top..<top+height`, columns `left..<left+width`.
    func decode(from reader: inout ByteReader, into canvas: UnsafeMutableBufferPointer<UInt8>, canvasWidth: Int,
                left: Int, top: Int, width: Int, height: Int, interlaced: Bool) throws {
        var suffix = [UInt8](repeating: 0, count: Self.tableSize)   // "data" in Pillow: last byte of entry
        var prefix = [UInt16](repeating: 0, count: Self.tableSize)  // "link": the entry it extends
        var stack = [UInt8](repeating: 0, count: Self.tableSize)    // one expanded string, filled from the end

        // Bit input across sub-blocks.
        var bitBuffer: UInt32 = 0, bitCount = 0, blockRemaining = 0
        // Table state.
        var next = clear + 2, codeSize = minimumCodeSize + 1, codeMask = (1 << codeSize) - 1
        var afterClear = true
        var lastCode = 0, lastData: UInt8 = 0
        // Output position (interlace passes: rows 0,8,16… then 4,12… then 2,6… then 1,3…).
        var x = 0, y = 0, step = interlaced ? 8 : 1, pass = interlaced ? 1 : 0
        var done = false

        func newLine() {
            x = 0
            y += step
            while y >= height {
                switch pass {
                case 1: y = 4; pass = 2
                case 2: step = 4; y = 2; pass = 3
                case 3: step = 2; y = 1; pass = 0
                default: done = true; return
                }
            }
        }

        func put(_ value: UInt8) {
            canvas[(top + y) * canvasWidth + left + x] = value
            x += 1
            if x >= width { newLine() }
        }

        while !done {
            // Read one code of `codeSize` bits.
            while bitCount < codeSize {
                if blockRemaining == 0 {
                    guard !reader.isAtEnd else { throw incomplete(y, height, reader) }
                    blockRemaining = Int(reader.bytes[reader.position])
                    reader.position += 1
                    guard blockRemaining > 0 else { throw incomplete(y, height, reader) }
                    continue
                }
                guard !reader.isAtEnd else { throw incomplete(y, height, reader) }
                bitBuffer |= UInt32(reader.bytes[reader.position]) << UInt32(bitCount)
                reader.position += 1
                blockRemaining -= 1
                bitCount += 8
            }
            var code = Int(bitBuffer) & codeMask
            bitBuffer >>= UInt32(codeSize)
            bitCount -= codeSize

            if code == clear {
                next = clear + 2
                codeSize = minimumCodeSize + 1
                codeMask = (1 << codeSize) - 1
                afterClear = true
                continue
            }
            if code == end {
                throw MediaError.truncated(
                    format: .gif, detail: "LZW end code after \(y) of \(height) rows; the frame is incomplete")
            }
            if afterClear {
                guard code < clear else {
                    throw MediaError.corrupt(format: .gif, detail: "LZW code \(code) right after a clear code")
                }
                lastCode = code
                lastData = UInt8(truncatingIfNeeded: code)
                afterClear = false
                put(lastData)
                continue
            }

            let thisCode = code
            guard code <= next else {
                throw MediaError.corrupt(format: .gif, detail: "LZW code \(code) beyond the table (next \(next))")
            }
            var top = Self.tableSize
            if code == next {  // KwKwK: the string of lastCode plus its own first byte
                top -= 1
                stack[top] = lastData
                code = lastCode
            }
            while code >= clear {
                guard top > 0, code < Self.tableSize else {
                    throw MediaError.corrupt(format: .gif, detail: "LZW string overflow")
                }
                top -= 1
                stack[top] = suffix[code]
                code = Int(prefix[code])
            }
            lastData = UInt8(truncatingIfNeeded: code)
            if next < Self.tableSize {
                suffix[next] = lastData
                prefix[next] = UInt16(lastCode)
                if next == codeMask && codeSize < 12 {
                    codeSize += 1
                    codeMask = (1 << codeSize) - 1
                }
                next += 1
            }
            lastCode = thisCode

            put(lastData)
            var i = top
            while i < Self.tableSize && !done {
                put(stack[i])
                i += 1
            }
        }
    }

    private func incomplete(_ row: Int, _ height: Int, _ reader: ByteReader) -> MediaError {
        .truncated(format: .gif, detail: "image data ends before the frame is complete (byte \(reader.position) "
                   + "of \(reader.bytes.count))")
    }
}

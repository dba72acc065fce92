import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes ``RGBImage``s as 8-bit RGB PNG files in pure Swift (no C library).
///
/// The file is a PNG signature, `IHDR` (colour type 2, bit depth 8, no interlace), `IDAT` chunks holding
/// one zlib stream, and `IEND`. The zlib stream uses only stored blocks or fixed-Huffman deflate blocks
/// (RFC 1951 §3.2.4/§3.2.6) with a hash-chain LZ77 matcher; each fixed-Huffman block that would come out
/// larger than storing its bytes is stored instead. Rows are filtered per row with the filter (None, Sub,
/// Up, Average, Paeth) whose output has the smallest sum of absolute values, libpng's heuristic.
///
/// ```swift
/// try PNGEncoder.write(image, to: URL(fileURLWithPath: "out.png"))   // atomic: temp file + rename
/// ```
public enum PNGEncoder {
    /// How the pixel data is deflated.
    public enum Compression: Sendable, Equatable {
        /// Stored (uncompressed) deflate blocks, rows unfiltered: fastest, largest.
        case stored
        /// Fixed-Huffman deflate blocks with LZ77 matching and adaptive row filters (the default).
        case fixedHuffman
    }

    /// Why writing a PNG file failed; `description` names the path and the reason.
    public struct WriteError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The destination path.
        public let path: String
        /// What went wrong, in plain words.
        public let reason: String

        public var description: String { "cannot write PNG '\(path)': \(reason)" }
    }

    /// The largest width or height a PNG header can hold (2³¹ − 1).
    public static let maxDimension = Int(Int32.max)

    /// Encodes the image as a complete PNG file.
    ///
    /// Returns empty `Data` only for images wider or taller than ``maxDimension`` pixels, which PNG cannot
    /// describe (such an image would hold more than 6 GiB of samples); ``write(_:to:compression:)`` throws
    /// for them instead.
    public static func encode(_ image: RGBImage, compression: Compression = .fixedHuffman) -> Data {
        guard image.width <= maxDimension, image.height <= maxDimension else { return Data() }
        let filtered = filterRows(image, adaptive: compression == .fixedHuffman)
        var zlib: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window, no preset dictionary, FCHECK ok
        switch compression {
        case .stored: zlib += Deflater.stored(filtered)
        case .fixedHuffman: zlib += Deflater.fixedHuffman(filtered)
        }
        let adler = adler32(filtered)
        zlib += [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)]

        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out.reserveCapacity(zlib.count + 64 + zlib.count / 100_000)
        var header: [UInt8] = []
        appendBE32(UInt32(image.width), to: &header)
        appendBE32(UInt32(image.height), to: &header)
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type RGB, deflate, adaptive filtering, no interlace
        appendChunk("IHDR", header[...], to: &out)
        let chunkSize = 1 << 18  // 256 KiB IDAT chunks
        var start = 0
        while start < zlib.count {
            let end = min(zlib.count, start + chunkSize)
            appendChunk("IDAT", zlib[start..<end], to: &out)
            start = end
        }
        appendChunk("IEND", [][...], to: &out)
        return Data(out)
    }

    /// Encodes the image and writes it to `url` atomically: the bytes go to a temporary file in the same
    /// folder, which is flushed and then renamed over the destination, so a failure never leaves a partial
    /// file at `url`. Throws ``WriteError`` naming the path and the reason.
    public static func write(_ image: RGBImage, to url: URL, compression: Compression = .fixedHuffman) throws {
        let path = url.path
        guard image.width <= maxDimension, image.height <= maxDimension else {
            throw WriteError(path: path, reason: "\(image.width)×\(image.height) exceeds PNG's limit of \(maxDimension) pixels a side")
        }
        let data = encode(image, compression: compression)
        try writeAtomically(data, to: path)
    }

    /// Writes `data` to a temporary sibling of `path`, fsyncs it, and renames it over `path`.
    static func writeAtomically(_ data: Data, to path: String) throws {
        guard !path.isEmpty else { throw WriteError(path: path, reason: "the path is empty") }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw WriteError(path: path, reason: "it is a directory")
        }
        guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw WriteError(path: path, reason: "the folder '\(folder)' does not exist")
        }
        let temp = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var failure: String?
        data.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = posixWrite(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                done += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if failure == nil, rename(temp, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temp)
            throw WriteError(path: path, reason: failure)
        }
    }

    // MARK: - Rows and filters

    /// The filtered scanlines: for each row, a filter-type byte then `width · 3` filtered bytes.
    static func filterRows(_ image: RGBImage, adaptive: Bool) -> [UInt8] {
        let stride = image.width * 3
        var out = [UInt8](repeating: 0, count: image.height * (stride + 1))
        let zeros = [UInt8](repeating: 0, count: stride)
        // Five candidate rows, one per filter type.
        var candidates = [UInt8](repeating: 0, count: 5 * stride)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                zeros.withUnsafeBufferPointer { zero in
                    candidates.withUnsafeMutableBufferPointer { cand in
                        for y in 0..<image.height {
                            let row = src.baseAddress! + y * stride
                            let target = dst.baseAddress! + y * (stride + 1)
                            guard adaptive else {
                                target[0] = 0
                                (target + 1).update(from: row, count: stride)
                                continue
                            }
                            let above = y > 0 ? row - stride : zero.baseAddress!
                            var bestType = 0
                            var best = UInt64.max
                            for type in 0..<5 {
                                let cost = applyFilter(type, row: row, above: above, count: stride,
                                                       into: cand.baseAddress! + type * stride)
                                if cost < best { best = cost; bestType = type }
                            }
                            target[0] = UInt8(bestType)
                            (target + 1).update(from: cand.baseAddress! + bestType * stride, count: stride)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Applies PNG filter `type` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth) to one row of RGB bytes, given the
    /// row above (zeros for the first row); returns the sum of the outputs' magnitudes read as signed bytes
    /// (the selection heuristic).
    static func applyFilter(_ type: Int, row x: UnsafePointer<UInt8>, above b: UnsafePointer<UInt8>, count: Int,
                            into out: UnsafeMutablePointer<UInt8>) -> UInt64 {
        @inline(__always) func magnitude(_ v: UInt8) -> UInt64 { UInt64(v < 128 ? v : 0 &- v) }
        var sum: UInt64 = 0
        let lead = min(3, count)  // the first pixel has no left neighbour (a = c = 0)
        switch type {
        case 0:
            for i in 0..<count { out[i] = x[i]; sum &+= magnitude(x[i]) }
        case 1:
            for i in 0..<lead { out[i] = x[i]; sum &+= magnitude(x[i]) }
            for i in lead..<count { let v = x[i] &- x[i - 3]; out[i] = v; sum &+= magnitude(v) }
        case 2:
            for i in 0..<count { let v = x[i] &- b[i]; out[i] = v; sum &+= magnitude(v) }
        case 3:
            for i in 0..<lead { let v = x[i] &- (b[i] >> 1); out[i] = v; sum &+= magnitude(v) }
            for i in lead..<count {
                let v = x[i] &- UInt8((UInt16(x[i - 3]) + UInt16(b[i])) >> 1)
                out[i] = v
                sum &+= magnitude(v)
            }
        default:
            for i in 0..<lead { let v = x[i] &- b[i]; out[i] = v; sum &+= magnitude(v) }  // Paeth(0, b, 0) = b
            for i in lead..<count {
                let a = Int(x[i - 3]), up = Int(b[i]), c = Int(b[i - 3])
                let pa = abs(up - c), pb = abs(a - c), pc = abs(a + up - 2 * c)
                let predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
                let v = x[i] &- UInt8(predictor)
                out[i] = v
                sum &+= magnitude(v)
            }
        }
        return sum
    }

    // MARK: - zlib pieces

    /// Adler-32 of `bytes` (RFC 1950), summing 5552 bytes between reductions.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let end = min(p.count, i + 5552)
                while i < end {
                    a &+= UInt32(p[i])
                    b &+= a
                    i += 1
                }
                a %= 65521
                b %= 65521
            }
        }
        return (b << 16) | a
    }

    /// The CRC-32 table for the reflected polynomial 0xEDB88320 (PNG, zlib, gzip).
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 of `bytes` continuing from `crc` (start with 0).
    static func crc32<C: Collection>(_ bytes: C, crc: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var c = ~crc
        crcTable.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            let contiguous: Void? = bytes.withContiguousStorageIfAvailable { buffer in
                for byte in buffer { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
            }
            if contiguous == nil {
                for byte in bytes { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
            }
        }
        return ~c
    }

    static func appendBE32(_ value: UInt32, to out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// Appends one chunk: length, type, data, CRC-32 over type and data.
    static func appendChunk(_ type: String, _ data: ArraySlice<UInt8>, to out: inout [UInt8]) {
        appendBE32(UInt32(data.count), to: &out)
        let typeBytes = Array(type.utf8)
        out += typeBytes
        out += data
        appendBE32(crc32(data, crc: crc32(typeBytes)), to: &out)
    }
}

/// `write(2)` under a name that does not clash with ``PNGEncoder/write(_:to:compression:)``.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}

extension PNGEncoder {
    /// A raw deflate (RFC 1951) compressor that emits fixed-Huffman blocks, or stored blocks where those are
    /// smaller. LZ77 uses a 32 KiB window, 3-byte hash chains (at most ``maxChain`` candidates per position,
    /// stopping early at ``niceLength``) and greedy matching.
    enum Deflater {
        static let windowSize = 32768
        static let hashBits = 15
        static let maxChain = 8
        static let niceLength = 64
        /// A block ends after this many tokens (literals or matches), so a poor block can fall back to stored.
        static let tokensPerBlock = 1 << 14

        /// Reverses the low `count` bits (Huffman codes are sent most-significant bit first).
        static func reversed(_ code: UInt32, count: Int) -> UInt32 {
            var result: UInt32 = 0
            for i in 0..<count where code & (1 << UInt32(i)) != 0 { result |= 1 << UInt32(count - 1 - i) }
            return result
        }

        /// The fixed literal/length code of `symbol` (0–287), bit-reversed, and its length.
        static func fixedLiteralCode(_ symbol: Int) -> (bits: UInt32, count: Int) {
            switch symbol {
            case 0...143: return (reversed(UInt32(0x30 + symbol), count: 8), 8)
            case 144...255: return (reversed(UInt32(0x190 + symbol - 144), count: 9), 9)
            case 256...279: return (reversed(UInt32(symbol - 256), count: 7), 7)
            default: return (reversed(UInt32(0xC0 + symbol - 280), count: 8), 8)
            }
        }

        static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                        67, 83, 99, 115, 131, 163, 195, 227, 258]
        static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                                         5, 5, 5, 5, 0]
        static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                                          513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
        static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
                                           10, 11, 11, 12, 12, 13, 13]

        /// Code tables with the bits (code bit-reversed, then extra bits) in the low 24 bits and the total
        /// bit count in the top 8: literals 0–255 and end-of-block at 0…256, lengths 3…258 at 257 + length,
        /// distances 1…32768 at 516 + distance.
        static let codes: [UInt32] = {
            var table = [UInt32](repeating: 0, count: 516 + 32769)
            for symbol in 0...256 {
                let code = fixedLiteralCode(symbol)
                table[symbol] = code.bits | UInt32(code.count) << 24
            }
            var index = 0
            for length in 3...258 {
                while index + 1 < lengthBase.count, lengthBase[index + 1] <= length { index += 1 }
                let code = fixedLiteralCode(257 + index)
                let bits = code.bits | UInt32(length - lengthBase[index]) << UInt32(code.count)
                table[257 + length] = bits | UInt32(code.count + lengthExtra[index]) << 24
            }
            index = 0
            for distance in 1...32768 {
                while index + 1 < distanceBase.count, distanceBase[index + 1] <= distance { index += 1 }
                let bits = reversed(UInt32(index), count: 5) | UInt32(distance - distanceBase[index]) << 5
                table[516 + distance] = bits | UInt32(5 + distanceExtra[index]) << 24
            }
            return table
        }()

        /// A growable output buffer that packs bits least-significant first, as deflate requires.
        struct BitWriter {
            private(set) var buffer: UnsafeMutablePointer<UInt8>
            private var capacity: Int
            private(set) var count = 0
            private var accumulator: UInt64 = 0
            private var filled = 0

            init(capacity: Int) {
                self.capacity = max(capacity, 64)
                buffer = .allocate(capacity: self.capacity)
            }

            func release() { buffer.deallocate() }

            /// Makes room for `extra` more bytes.
            mutating func reserve(_ extra: Int) {
                guard count + extra + 16 > capacity else { return }
                let grown = max(capacity * 2, count + extra + 16)
                let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
                fresh.update(from: buffer, count: count)
                buffer.deallocate()
                buffer = fresh
                capacity = grown
            }

            /// Appends the low `count` bits of `bits` (count ≤ 32); room must have been reserved.
            @inline(__always)
            mutating func write(_ bits: UInt32, count n: Int) {
                accumulator |= UInt64(bits) << UInt64(filled)
                filled += n
                if filled >= 32 {
                    let word = UInt32(truncatingIfNeeded: accumulator)
                    buffer[count] = UInt8(word & 0xFF); buffer[count + 1] = UInt8((word >> 8) & 0xFF)
                    buffer[count + 2] = UInt8((word >> 16) & 0xFF); buffer[count + 3] = UInt8(word >> 24)
                    count += 4
                    accumulator >>= 32
                    filled -= 32
                }
            }

            /// Writes a table entry from ``codes`` (bits in the low 24 bits, count in the top 8).
            @inline(__always)
            mutating func write(code: UInt32) { write(code & 0xFF_FFFF, count: Int(code >> 24)) }

            /// Pads with zero bits to the next byte boundary.
            mutating func alignToByte() {
                reserve(8)
                while filled > 0 {
                    buffer[count] = UInt8(truncatingIfNeeded: accumulator)
                    count += 1
                    accumulator >>= 8
                    filled = max(0, filled - 8)
                }
                accumulator = 0
            }

            /// Appends raw bytes; the writer must be byte-aligned.
            mutating func append(_ bytes: UnsafePointer<UInt8>, count n: Int) {
                reserve(n)
                (buffer + count).update(from: bytes, count: n)
                count += n
            }
        }

        /// Compresses `input` into a complete raw deflate stream (last block marked final).
        static func fixedHuffman(_ input: [UInt8]) -> [UInt8] {
            var writer = BitWriter(capacity: input.count + input.count / 64 + 1024)
            defer { writer.release() }
            let head = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << hashBits)
            let prev = UnsafeMutablePointer<Int32>.allocate(capacity: windowSize)
            let tokens = UnsafeMutablePointer<UInt32>.allocate(capacity: tokensPerBlock)
            head.initialize(repeating: -1, count: 1 << hashBits)
            prev.initialize(repeating: -1, count: windowSize)
            defer { head.deallocate(); prev.deallocate(); tokens.deallocate() }
            input.withUnsafeBufferPointer { data in
                codes.withUnsafeBufferPointer { table in
                    compress(data, table: table.baseAddress!, head: head, prev: prev, tokens: tokens, into: &writer)
                }
            }
            writer.alignToByte()
            return Array(UnsafeBufferPointer(start: writer.buffer, count: writer.count))
        }

        /// `input` as a complete raw deflate stream of stored blocks.
        static func stored(_ input: [UInt8]) -> [UInt8] {
            var writer = BitWriter(capacity: input.count + input.count / 8192 + 64)
            defer { writer.release() }
            input.withUnsafeBufferPointer { data in
                writeStored(data.baseAddress ?? UnsafePointer(writer.buffer), from: 0, to: data.count, final: true, into: &writer)
            }
            writer.alignToByte()
            return Array(UnsafeBufferPointer(start: writer.buffer, count: writer.count))
        }

        /// Writes bytes `start..<end` of `p` as stored blocks of at most 65535 bytes (at least one block);
        /// the last gets BFINAL when `final`.
        static func writeStored(_ p: UnsafePointer<UInt8>, from start: Int, to end: Int, final: Bool,
                                into writer: inout BitWriter) {
            var s = start
            repeat {
                let e = min(end, s + 65535)
                writer.reserve(8)
                writer.write(final && e == end ? 1 : 0, count: 3)  // BFINAL, BTYPE = 00
                writer.alignToByte()
                let size = UInt32(e - s)
                writer.write(size | (~size & 0xFFFF) << 16, count: 32)  // LEN, NLEN (little-endian)
                writer.append(p + s, count: e - s)
                s = e
            } while s < end
        }

        /// The LZ77 loop: tokens are collected per block and each block is written as fixed Huffman or stored.
        /// A token is a literal byte, or `1 << 31 | length << 16 | distance` for a match.
        static func compress(_ data: UnsafeBufferPointer<UInt8>, table: UnsafePointer<UInt32>,
                             head: UnsafeMutablePointer<Int32>, prev: UnsafeMutablePointer<Int32>,
                             tokens: UnsafeMutablePointer<UInt32>, into writer: inout BitWriter) {
            let n = data.count
            guard let p = data.baseAddress, n > 0 else {
                writer.reserve(8)
                writer.write(3, count: 3)  // final fixed block holding only end-of-block
                writer.write(code: table[256])
                return
            }
            let raw = UnsafeRawPointer(p)
            let mask = windowSize - 1
            @inline(__always) func hash(_ i: Int) -> Int {
                let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
                return Int((v &* 2_654_435_761) >> UInt32(32 - hashBits))
            }
            var tokenCount = 0
            var blockStart = 0
            var blockBits = 0

            func flush(end: Int, final: Bool) {
                let length = end - blockStart
                let storedBits = length * 8 + (length / 65535 + 1) * 40 + 7
                if blockBits + 10 > storedBits {
                    writeStored(p, from: blockStart, to: end, final: final, into: &writer)
                } else {
                    writer.reserve(blockBits / 8 + 16)
                    writer.write(final ? 3 : 2, count: 3)  // BFINAL, BTYPE = 01 (fixed Huffman)
                    for k in 0..<tokenCount {
                        let token = tokens[k]
                        if token & 0x8000_0000 == 0 {
                            writer.write(code: table[Int(token)])
                        } else {
                            writer.write(code: table[257 + Int((token >> 16) & 0x1FF)])
                            writer.write(code: table[516 + Int(token & 0xFFFF)])
                        }
                    }
                    writer.write(code: table[256])
                }
                tokenCount = 0
                blockStart = end
                blockBits = 0
            }

            var pos = 0
            while pos < n {
                var bestLength = 0, bestDistance = 0
                if pos + 3 <= n {
                    let maxLength = min(258, n - pos)
                    let h = hash(pos)
                    var candidate = Int(head[h])
                    var chain = maxChain
                    while candidate >= 0, pos - candidate <= windowSize, chain > 0 {
                        if p[candidate + bestLength] == p[pos + bestLength] {  // bestLength < maxLength here
                            var length = 0
                            while length + 8 <= maxLength {
                                let a = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: candidate + length, as: UInt64.self))
                                let b = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: pos + length, as: UInt64.self))
                                if a != b { length += (a ^ b).trailingZeroBitCount >> 3; break }
                                length += 8
                            }
                            if length + 8 > maxLength {
                                while length < maxLength, p[candidate + length] == p[pos + length] { length += 1 }
                            }
                            if length > bestLength {
                                bestLength = length
                                bestDistance = pos - candidate
                                if length >= min(niceLength, maxLength) { break }
                            }
                        }
                        candidate = Int(prev[candidate & mask])
                        chain -= 1
                    }
                    prev[pos & mask] = head[h]
                    head[h] = Int32(pos)
                }
                if bestLength >= 3 {
                    tokens[tokenCount] = 0x8000_0000 | UInt32(bestLength) << 16 | UInt32(bestDistance)
                    blockBits += Int(table[257 + bestLength] >> 24) + Int(table[516 + bestDistance] >> 24)
                    var k = pos + 1
                    let stop = min(pos + bestLength, n - 2)
                    while k < stop {
                        let h = hash(k)
                        prev[k & mask] = head[h]
                        head[h] = Int32(k)
                        k += 1
                    }
                    pos += bestLength
                } else {
                    tokens[tokenCount] = UInt32(p[pos])
                    blockBits += Int(table[Int(p[pos])] >> 24)
                    pos += 1
                }
                tokenCount += 1
                if tokenCount == tokensPerBlock { flush(end: pos, final: pos >= n) }
            }
            if tokenCount > 0 { flush(end: pos, final: true) }
        }
    }
}

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
        case .stored: appendStoredBlocks(filtered[...], final: true, into: &zlib)
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
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var candidate = [UInt8](repeating: 0, count: stride)
                for y in 0..<image.height {
                    let row = src.baseAddress! + y * stride
                    let above: UnsafePointer<UInt8>? = y > 0 ? row - stride : nil
                    let target = dst.baseAddress! + y * (stride + 1)
                    guard adaptive else {
                        target[0] = 0
                        (target + 1).update(from: row, count: stride)
                        continue
                    }
                    var best = UInt64.max
                    for filter in 0..<5 {
                        let cost = candidate.withUnsafeMutableBufferPointer { c in
                            applyFilter(filter, row: row, above: above, count: stride, into: c.baseAddress!)
                        }
                        if cost < best {
                            best = cost
                            target[0] = UInt8(filter)
                            candidate.withUnsafeBufferPointer { (target + 1).update(from: $0.baseAddress!, count: stride) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Applies PNG filter `type` to one row of RGB bytes; returns the sum of the outputs read as signed bytes'
    /// magnitudes (the selection heuristic).
    static func applyFilter(_ type: Int, row: UnsafePointer<UInt8>, above: UnsafePointer<UInt8>?, count: Int,
                            into out: UnsafeMutablePointer<UInt8>) -> UInt64 {
        var sum: UInt64 = 0
        for i in 0..<count {
            let x = row[i]
            let a: UInt8 = i >= 3 ? row[i - 3] : 0
            let b: UInt8 = above?[i] ?? 0
            let c: UInt8 = i >= 3 ? (above?[i - 3] ?? 0) : 0
            let predictor: UInt8
            switch type {
            case 0: predictor = 0
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = UInt8((Int(a) + Int(b)) >> 1)
            default:
                let p = Int(a) + Int(b) - Int(c)
                let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
                predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
            }
            let v = x &- predictor
            out[i] = v
            sum += UInt64(v < 128 ? v : 0 &- v)
        }
        return sum
    }

    // MARK: - zlib pieces

    /// Appends `bytes` as stored deflate blocks (≤ 65535 bytes each); the last gets BFINAL when `final`.
    /// The output must be byte-aligned when called (true for the zlib header and after a flushed ``BitWriter``).
    static func appendStoredBlocks(_ bytes: ArraySlice<UInt8>, final: Bool, into out: inout [UInt8]) {
        var start = bytes.startIndex
        repeat {
            let end = min(bytes.endIndex, start + 65535)
            let last = final && end == bytes.endIndex
            out.append(last ? 1 : 0)  // BFINAL, BTYPE = 00, then padding to the byte boundary
            let length = UInt16(end - start)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += bytes[start..<end]
            start = end
        } while start < bytes.endIndex
    }

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
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
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
    /// smaller. LZ77 uses a 32 KiB window, 3-byte hash chains (at most 32 candidates per position) and
    /// greedy matching.
    enum Deflater {
        /// Packs bits least-significant first, as deflate requires.
        struct BitWriter {
            var bytes: [UInt8] = []
            private var accumulator: UInt64 = 0
            private var filled = 0

            /// Appends the low `count` bits of `bits` (count ≤ 32).
            @inline(__always)
            mutating func write(_ bits: UInt32, count: Int) {
                accumulator |= UInt64(bits) << UInt64(filled)
                filled += count
                if filled >= 32 {
                    let word = UInt32(truncatingIfNeeded: accumulator)
                    bytes.append(UInt8(word & 0xFF)); bytes.append(UInt8((word >> 8) & 0xFF))
                    bytes.append(UInt8((word >> 16) & 0xFF)); bytes.append(UInt8(word >> 24))
                    accumulator >>= 32
                    filled -= 32
                }
            }

            /// Pads with zero bits to the next byte boundary.
            mutating func alignToByte() {
                while filled > 0 {
                    bytes.append(UInt8(truncatingIfNeeded: accumulator))
                    accumulator >>= 8
                    filled = max(0, filled - 8)
                }
                accumulator = 0
            }
        }

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

        /// Literal codes 0–255 and the end-of-block code 256: bits and lengths.
        static let literalCodes: [(bits: UInt32, count: Int)] = (0...256).map(fixedLiteralCode)

        /// For each match length 3…258 (index = length): length symbol code plus extra bits, combined.
        static let lengthCodes: [(bits: UInt32, count: Int)] = (0...258).map { length in
            guard length >= 3 else { return (0, 0) }
            var index = lengthBase.count - 1
            while lengthBase[index] > length { index -= 1 }
            let code = fixedLiteralCode(257 + index)
            let extra = UInt32(length - lengthBase[index])
            return (code.bits | extra << UInt32(code.count), code.count + lengthExtra[index])
        }

        /// For each distance 1…32768 (index = distance): 5-bit distance code plus extra bits, combined.
        static let distanceCodes: [(bits: UInt32, count: Int)] = {
            var table = [(bits: UInt32, count: Int)](repeating: (0, 0), count: 32769)
            var index = 0
            for distance in 1...32768 {
                while index + 1 < distanceBase.count, distanceBase[index + 1] <= distance { index += 1 }
                let extra = UInt32(distance - distanceBase[index])
                table[distance] = (reversed(UInt32(index), count: 5) | extra << 5, 5 + distanceExtra[index])
            }
            return table
        }()

        static let windowSize = 32768
        static let hashBits = 15
        static let maxChain = 32
        /// A block ends after this many tokens (literals or matches), so a poor block can fall back to stored.
        static let tokensPerBlock = 1 << 15

        /// Compresses `input` into a complete raw deflate stream (last block marked final).
        static func fixedHuffman(_ input: [UInt8]) -> [UInt8] {
            var writer = BitWriter()
            writer.bytes.reserveCapacity(input.count / 2 + 64)
            let n = input.count
            var head = [Int32](repeating: -1, count: 1 << hashBits)
            var prev = [Int32](repeating: -1, count: windowSize)
            var tokens: [UInt32] = []  // literal: byte; match: 1<<31 | length<<16 | distance
            tokens.reserveCapacity(tokensPerBlock)
            var blockStart = 0
            var blockBits = 0

            input.withUnsafeBufferPointer { p in
                let lengths = lengthCodes, distances = distanceCodes, literals = literalCodes
                @inline(__always) func hash(_ i: Int) -> Int {
                    let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
                    return Int((v &* 2_654_435_761) >> UInt32(32 - hashBits))
                }
                @inline(__always) func insert(_ i: Int) {
                    let h = hash(i)
                    prev[i & (windowSize - 1)] = head[h]
                    head[h] = Int32(i)
                }
                func flush(end: Int, final: Bool) {
                    let storedBits = (end - blockStart) * 8 + ((end - blockStart) / 65535 + 1) * 48
                    if blockBits + 10 > storedBits {
                        writeStored(start: blockStart, end: end, final: final)
                    } else {
                        writer.write(final ? 1 : 0, count: 1)
                        writer.write(1, count: 2)  // BTYPE = 01 (fixed Huffman)
                        for token in tokens {
                            if token & 0x8000_0000 == 0 {
                                let code = literals[Int(token)]
                                writer.write(code.bits, count: code.count)
                            } else {
                                let length = lengths[Int((token >> 16) & 0x1FF)]
                                writer.write(length.bits, count: length.count)
                                let distance = distances[Int(token & 0xFFFF)]
                                writer.write(distance.bits, count: distance.count)
                            }
                        }
                        writer.write(literals[256].bits, count: literals[256].count)
                    }
                    tokens.removeAll(keepingCapacity: true)
                    blockStart = end
                    blockBits = 0
                }
                func writeStored(start: Int, end: Int, final: Bool) {
                    var s = start
                    repeat {
                        let e = min(end, s + 65535)
                        writer.write(final && e == end ? 1 : 0, count: 3)  // BFINAL, BTYPE = 00
                        writer.alignToByte()
                        let length = UInt16(e - s)
                        writer.bytes += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
                        writer.bytes += p[s..<e]
                        s = e
                    } while s < end
                }

                var pos = 0
                while pos < n {
                    var bestLength = 0, bestDistance = 0
                    if pos + 3 <= n {
                        let maxLength = min(258, n - pos)
                        var candidate = Int(head[hash(pos)])
                        var chain = maxChain
                        while candidate >= 0, pos - candidate <= windowSize, chain > 0 {
                            if p[candidate + bestLength] == p[pos + bestLength] {  // bestLength < maxLength here
                                var length = 0
                                while length < maxLength, p[candidate + length] == p[pos + length] { length += 1 }
                                if length > bestLength {
                                    bestLength = length
                                    bestDistance = pos - candidate
                                    if length == maxLength { break }
                                }
                            }
                            candidate = Int(prev[candidate & (windowSize - 1)])
                            chain -= 1
                        }
                        insert(pos)
                    }
                    if bestLength >= 3 {
                        tokens.append(0x8000_0000 | UInt32(bestLength) << 16 | UInt32(bestDistance))
                        blockBits += lengths[bestLength].count + distances[bestDistance].count
                        var k = pos + 1
                        let stop = min(pos + bestLength, n - 2)
                        while k < stop { insert(k); k += 1 }
                        pos += bestLength
                    } else {
                        tokens.append(UInt32(p[pos]))
                        blockBits += literals[Int(p[pos])].count
                        pos += 1
                    }
                    if tokens.count >= tokensPerBlock { flush(end: pos, final: pos >= n) }
                }
                if !tokens.isEmpty || blockStart < n || n == 0 { flush(end: pos, final: true) }
            }
            writer.alignToByte()
            return writer.bytes
        }
    }
}

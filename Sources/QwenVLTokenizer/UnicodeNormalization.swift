/// Unicode NFC exactly as HF `tokenizers` computes it (its tables are Unicode 9.0).
///
/// Swift's own NFC cannot be used: its tables are newer (e.g. U+07FD, U+0D3B have canonical combining classes
/// since Unicode 10/11 that HF ignores), and the stdlib mis-orders marks after a decomposed U+0F73. This is the
/// textbook algorithm (decompose, canonical order, compose) over `NFCTables` plus the stdlib's combining classes
/// restricted to Unicode ≤ 9.0, with a quick check that leaves NFC text (all ASCII, most prose) untouched.
/// Verified against HF for every scalar in five contexts (`Tests/Fixtures/tokenizer-extra/nfc_cases.jsonl`).
public enum UnicodeNormalization {
    /// The NFC form of `text`, as HF `tokenizers`' NFC normalizer produces it.
    public static func nfc(_ text: String) -> String {
        var copy = text
        guard let normalized = copy.withUTF8({ nfc($0) }) else { return text }
        return String(decoding: normalized, as: UTF8.self)
    }

    /// Returns the NFC form of valid UTF-8, or nil when the input already is NFC (the common case).
    static func nfc(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let tables = NFCData.shared
        var i = 0
        let n = bytes.count
        var previousStart = 0
        // Quick check: find the first scalar that may change under NFC.
        while i < n {
            if bytes[i] < 0x80 {
                previousStart = i
                i += 1
                continue
            }
            let (v, length) = UTF8Coding.decode(bytes, at: i)
            if tables.isUnsafe(v) { break }
            previousStart = i
            i += length
        }
        if i >= n { return nil }
        // Slow path from the scalar before the first unsafe one (it may compose with it) to the end.
        let start = previousStart < i ? previousStart : i
        var scalars: [UInt32] = []
        scalars.reserveCapacity(n - start)
        var j = start
        while j < n {
            let (v, length) = UTF8Coding.decode(bytes, at: j)
            scalars.append(v)
            j += length
        }
        let composed = tables.compose(tables.decompose(scalars))
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[0..<start]))
        out.reserveCapacity(n + 8)
        for v in composed { UTF8Coding.append(v, to: &out) }
        return out
    }
}

/// The parsed normalization data and the per-scalar flags for the BMP.
final class NFCData: Sendable {
    static let shared = NFCData()

    /// Hangul syllable constants (Unicode §3.12).
    static let sBase: UInt32 = 0xAC00, lBase: UInt32 = 0x1100, vBase: UInt32 = 0x1161, tBase: UInt32 = 0x11A7
    static let lCount: UInt32 = 19, vCount: UInt32 = 21, tCount: UInt32 = 28
    static let nCount: UInt32 = vCount * tCount, sCount: UInt32 = lCount * nCount

    /// Flags per BMP scalar.
    static let unsafeFlag: UInt8 = 1, decomposesFlag: UInt8 = 2, secondFlag: UInt8 = 4

    /// Full canonical decomposition of each decomposable scalar (Hangul excluded).
    let decompositions: [UInt32: [UInt32]]
    /// Primary composites: `(first << 21) | second` → composite.
    let compositions: [UInt64: UInt32]
    /// Scalars that occur as the second element of a primary composite.
    let seconds: Set<UInt32>
    /// Scalars that NFC never outputs (singletons, exclusions, non-starter decompositions).
    let excluded: Set<UInt32>
    /// Combining class per BMP scalar, Unicode ≤ 9.0 (shape [65536]).
    let bmpCombiningClass: [UInt8]
    /// Flags per BMP scalar (shape [65536]).
    let bmpFlags: [UInt8]

    private init() {
        var oneLevel: [UInt32: [UInt32]] = [:]
        var excluded = Set<UInt32>()
        for entry in NFCTables.decompositions.split(separator: ";") {
            var text = Substring(entry)
            let isExcluded = text.hasPrefix("*")
            if isExcluded { text = text.dropFirst() }
            let values = text.split(separator: " ").compactMap { UInt32($0, radix: 16) }
            guard values.count >= 2 else { continue }
            oneLevel[values[0]] = Array(values[1...])
            if isExcluded { excluded.insert(values[0]) }
        }
        func expand(_ v: UInt32) -> [UInt32] {
            guard let mapping = oneLevel[v] else { return [v] }
            return mapping.flatMap { expand($0) }
        }
        var decompositions: [UInt32: [UInt32]] = [:]
        var compositions: [UInt64: UInt32] = [:]
        var seconds = Set<UInt32>()
        for (v, mapping) in oneLevel {
            decompositions[v] = expand(v)
            if mapping.count == 2, !excluded.contains(v) {
                compositions[UInt64(mapping[0]) << 21 | UInt64(mapping[1])] = v
                seconds.insert(mapping[1])
            }
        }
        self.decompositions = decompositions
        self.compositions = compositions
        self.seconds = seconds
        self.excluded = excluded

        var ccc = [UInt8](repeating: 0, count: 0x10000)
        var flags = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<UInt32(0x10000) {
            ccc[Int(v)] = NFCData.computeCombiningClass(v)
        }
        for v in 0..<UInt32(0x10000) {
            var f: UInt8 = 0
            let isHangulSecond = (NFCData.vBase..<NFCData.vBase + NFCData.vCount).contains(v)
                || (NFCData.tBase + 1..<NFCData.tBase + NFCData.tCount).contains(v)
            if seconds.contains(v) || isHangulSecond { f |= NFCData.secondFlag }
            if decompositions[v] != nil { f |= NFCData.decomposesFlag }
            flags[Int(v)] = f
        }
        for v in 0..<UInt32(0x10000) {
            var unsafe = ccc[Int(v)] != 0 || flags[Int(v)] & NFCData.secondFlag != 0 || excluded.contains(v)
            if let full = decompositions[v], let first = full.first {
                let firstClass = first < 0x10000 ? ccc[Int(first)] : NFCData.computeCombiningClass(first)
                let firstIsSecond = first < 0x10000 ? flags[Int(first)] & NFCData.secondFlag != 0 : seconds.contains(first)
                if firstClass != 0 || firstIsSecond { unsafe = true }
            }
            if unsafe { flags[Int(v)] |= NFCData.unsafeFlag }
        }
        self.bmpCombiningClass = ccc
        self.bmpFlags = flags
    }

    /// Canonical combining class as HF's (Unicode 9.0) tables have it: 0 for scalars assigned later.
    static func computeCombiningClass(_ v: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(v), let age = scalar.properties.age,
              age.major < 9 || (age.major == 9 && age.minor == 0) else { return 0 }
        return UInt8(truncatingIfNeeded: scalar.properties.canonicalCombiningClass.rawValue)
    }

    @inline(__always)
    func combiningClass(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? bmpCombiningClass[Int(v)] : NFCData.computeCombiningClass(v)
    }

    /// Whether a scalar may change NFC output (non-zero class, composes with a predecessor, or never kept).
    @inline(__always)
    func isUnsafe(_ v: UInt32) -> Bool {
        if v < 0x10000 { return bmpFlags[Int(v)] & NFCData.unsafeFlag != 0 }
        if combiningClass(v) != 0 || seconds.contains(v) || excluded.contains(v) { return true }
        if let first = decompositions[v]?.first, combiningClass(first) != 0 || seconds.contains(first) { return true }
        return false
    }

    /// Full canonical decomposition followed by canonical ordering (stable sort of non-starter runs by class).
    func decompose(_ input: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(input.count + 8)
        var classes: [UInt8] = []
        classes.reserveCapacity(input.count + 8)
        func push(_ v: UInt32) {
            let cc = combiningClass(v)
            out.append(v)
            classes.append(cc)
            guard cc != 0 else { return }
            var k = out.count - 1
            while k > 0, classes[k - 1] > cc {
                out.swapAt(k, k - 1)
                classes.swapAt(k, k - 1)
                k -= 1
            }
        }
        for v in input {
            if v >= NFCData.sBase, v < NFCData.sBase + NFCData.sCount {
                let s = v - NFCData.sBase
                push(NFCData.lBase + s / NFCData.nCount)
                push(NFCData.vBase + (s % NFCData.nCount) / NFCData.tCount)
                let t = s % NFCData.tCount
                if t != 0 { push(NFCData.tBase + t) }
            } else if let full = (v < 0x10000 && bmpFlags[Int(v)] & NFCData.decomposesFlag == 0) ? nil : decompositions[v] {
                for d in full { push(d) }
            } else {
                push(v)
            }
        }
        return out
    }

    /// The primary composite of a pair, if any (Hangul algorithmically).
    @inline(__always)
    func composite(_ first: UInt32, _ second: UInt32) -> UInt32? {
        if first >= NFCData.lBase, first < NFCData.lBase + NFCData.lCount,
           second >= NFCData.vBase, second < NFCData.vBase + NFCData.vCount {
            return NFCData.sBase + ((first - NFCData.lBase) * NFCData.vCount + (second - NFCData.vBase)) * NFCData.tCount
        }
        if first >= NFCData.sBase, first < NFCData.sBase + NFCData.sCount, (first - NFCData.sBase) % NFCData.tCount == 0,
           second > NFCData.tBase, second < NFCData.tBase + NFCData.tCount {
            return first + (second - NFCData.tBase)
        }
        if second < 0x10000, bmpFlags[Int(second)] & NFCData.secondFlag == 0 { return nil }
        return compositions[UInt64(first) << 21 | UInt64(second)]
    }

    /// Canonical composition of canonically ordered, fully decomposed scalars.
    func compose(_ input: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(input.count)
        var starter = -1          // index in `out` of the last starter
        var lastClass: Int = -1   // class of the last char appended after the starter; -1: none yet
        for v in input {
            let cc = Int(combiningClass(v))
            if starter >= 0 {
                let blocked = lastClass != -1 && (lastClass == 0 || lastClass >= cc)
                if !blocked, let c = composite(out[starter], v) {
                    out[starter] = c
                    continue
                }
            }
            if cc == 0 {
                starter = out.count
                lastClass = -1
            } else {
                lastClass = cc
            }
            out.append(v)
        }
        return out
    }
}

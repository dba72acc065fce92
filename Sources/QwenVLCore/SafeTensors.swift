import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    /// Row-major shape, outermost first.
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header, then raw data.
///
/// The file is mapped read-only and never copied; tensor pointers stay valid for the lifetime of this object.
/// Opening validates the whole header, so later reads cannot go out of bounds:
/// header length within the file, valid JSON, known dtypes, offsets inside the data section and not
/// overlapping, and shape × dtype size equal to the byte count.
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// Tensors by name.
    public let tensors: [String: TensorInfo]
    /// The `__metadata__` object, if any.
    public let metadata: [String: String]
    private let base: UnsafeRawPointer?
    private let mappedSize: Int
    private let dataOffset: Int

    /// Maps and validates the file at `url`.
    public init(url: URL) throws {
        self.url = url
        let name = url.lastPathComponent
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw CheckpointError("\(name): cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CheckpointError("\(name): cannot stat file") }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw CheckpointError("\(name): truncated safetensors file (\(size) bytes; the 8-byte header length is missing)")
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw CheckpointError("\(name): mmap failed (\(String(cString: strerror(errno))))")
        }
        // Weights are streamed whole for every token: ask for 2 MiB page-cache folios, which the kernel maps with
        // one TLB entry each where the mapping is 2 MiB-aligned (read-ahead of pages not yet cached allocates them
        // at that size; pages already cached keep theirs). Measured on the 2B in bf16: with the checkpoint cached in
        // 2 MiB folios (3.2 GB mapped by PMD entries) decode ran at 9.0–9.2 tok/s against 8.3–8.5 in small folios.
        // `QWENVL_HUGE_PAGES=0` leaves the mapping as it is.
        if HugePageArena.enabled { _ = madvise(map, size, Int32(MADV_HUGEPAGE)) }
        let raw = UnsafeRawPointer(map)
        var ok = false
        defer { if !ok { munmap(map, size) } }

        let headerLength = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8) else {
            throw CheckpointError("\(name): header length \(headerLength) exceeds the file size (\(size) bytes)")
        }
        let headerData = Data(bytes: raw + 8, count: Int(headerLength))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw CheckpointError("\(name): header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw CheckpointError("\(name): header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = size - dataStart
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in object {
            if key == "__metadata__" {
                if let meta = value as? [String: Any] {
                    for (k, v) in meta { metadata[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw CheckpointError("\(name): tensor '\(key)' header entry is not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw CheckpointError("\(name): tensor '\(key)' has no dtype")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw CheckpointError("\(name): tensor '\(key)' has unknown or unsupported dtype '\(dtypeName)' (supported: F32, F16, BF16)")
            }
            guard let shapeValues = entry["shape"] as? [Any],
                  let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError("\(name): tensor '\(key)' has an invalid shape")
            }
            guard let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2,
                  let offsets = Self.integers(offsetValues) else {
                throw CheckpointError("\(name): tensor '\(key)' has invalid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw CheckpointError("\(name): tensor '\(key)' data_offsets [\(begin), \(end)] are out of range (data section is \(dataSize) bytes; file truncated?)")
            }
            var elements = 1
            for dim in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw CheckpointError("\(name): tensor '\(key)' shape \(shape) is too large") }
                elements = product
            }
            guard elements * dtype.byteCount == end - begin else {
                throw CheckpointError("\(name): tensor '\(key)' shape \(shape) × \(dtype.rawValue) needs \(elements * dtype.byteCount) bytes but data_offsets span \(end - begin)")
            }
            tensors[key] = TensorInfo(name: key, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        let sorted = tensors.values.sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw CheckpointError("\(name): tensors '\(previous.name)' and '\(next.name)' overlap in the data section")
        }
        self.tensors = tensors
        self.metadata = metadata
        self.base = raw
        self.mappedSize = size
        self.dataOffset = dataStart
        ok = true
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), mappedSize) }
    }

    /// Raw bytes of a tensor inside the mapping (valid while `self` lives).
    public func pointer(for info: TensorInfo) -> UnsafeRawPointer {
        base! + dataOffset + info.byteRange.lowerBound
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            if let int = value as? Int { result.append(int) }
            else if let double = value as? Double, double == double.rounded(), abs(double) < 9e15 { result.append(Int(double)) }
            else { return nil }
        }
        return result
    }
}

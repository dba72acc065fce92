import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes `.safetensors` files (8-byte little-endian header length, JSON header, raw little-endian data) atomically.
///
/// The header lists tensors in name order with data in the same order, padded with spaces to a multiple of 8 bytes
/// as the reference `safetensors` library does, so PyTorch's `safetensors.torch.load_file` and ``SafeTensorsFile``
/// both read it. Tensor data is produced one tensor at a time, so a large checkpoint never sits in memory whole.
public enum SafeTensorsWriter {
    /// One tensor to write: its name, dtype spelling (`F32`, `BF16`, `F16`, `I32`, `I64`, ...), shape, and a
    /// closure producing its raw bytes (exactly shape × element size).
    public struct Entry {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var bytes: () throws -> Data

        public init(name: String, dtype: String, shape: [Int], bytes: @escaping () throws -> Data) {
            self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
        }

        /// An F32 tensor from floats (stored little-endian).
        public static func f32(_ name: String, shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: "F32", shape: shape) { values.withUnsafeBytes { Data($0) } }
        }

        /// An I32 tensor from integers (stored little-endian, as the host: x86-64 and aarch64).
        public static func i32(_ name: String, shape: [Int], _ values: [Int32]) -> Entry {
            Entry(name: name, dtype: "I32", shape: shape) { values.withUnsafeBytes { Data($0) } }
        }

        /// A BF16 tensor rounded from floats (round-to-nearest-even, as torch's `.to(torch.bfloat16)`).
        public static func bf16(_ name: String, shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: "BF16", shape: shape) {
                let bits = values.map { floatToBF16($0).littleEndian }
                return bits.withUnsafeBytes { Data($0) }
            }
        }

        /// Bytes per element of `dtype`, nil for a spelling this writer does not know.
        static func elementSize(_ dtype: String) -> Int? {
            switch dtype {
            case "F64", "I64", "U64": 8
            case "F32", "I32", "U32": 4
            case "F16", "BF16", "I16", "U16": 2
            case "I8", "U8", "BOOL": 1
            default: nil
            }
        }
    }

    /// Total data bytes `entries` need (for sharding decisions).
    public static func dataSize(_ entries: [Entry]) -> Int {
        entries.reduce(0) { $0 + $1.shape.reduce(1, *) * (Entry.elementSize($1.dtype) ?? 0) }
    }

    /// Writes `entries` (and `metadata` as `__metadata__`) to `url`: into a temporary file beside it, renamed over
    /// `url` only when complete.
    public static func write(_ entries: [Entry], metadata: [String: String]? = nil, to url: URL) throws {
        let name = url.lastPathComponent
        let sorted = entries.sorted { $0.name < $1.name }
        var seen = Set<String>()
        var header: [String: Any] = [:]
        if let metadata { header["__metadata__"] = metadata }
        var offset = 0
        var sizes: [Int] = []
        for entry in sorted {
            guard seen.insert(entry.name).inserted else { throw CheckpointError("\(name): tensor '\(entry.name)' given twice") }
            guard entry.name != "__metadata__" else { throw CheckpointError("\(name): '__metadata__' is not a tensor name") }
            guard let size = Entry.elementSize(entry.dtype) else {
                throw CheckpointError("\(name): tensor '\(entry.name)' has unknown dtype '\(entry.dtype)'")
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError("\(name): tensor '\(entry.name)' has a negative dimension in \(entry.shape)")
            }
            let bytes = entry.shape.reduce(1, *) * size
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            sizes.append(bytes)
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        while json.count % 8 != 0 { json.append(0x20) }

        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(name).\(ProcessInfo.processInfo.processIdentifier).\(UInt32.random(in: 0...UInt32.max)).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw CheckpointError("\(name): cannot create \(temporary.path)")
        }
        var done = false
        defer { if !done { try? FileManager.default.removeItem(at: temporary) } }
        let handle = try FileHandle(forWritingTo: temporary)
        do {
            var length = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &length, count: 8))
            try handle.write(contentsOf: json)
            for (entry, size) in zip(sorted, sizes) {
                let data = try entry.bytes()
                guard data.count == size else {
                    throw CheckpointError("\(name): tensor '\(entry.name)' produced \(data.count) bytes, its shape \(entry.shape) × \(entry.dtype) needs \(size)")
                }
                try handle.write(contentsOf: data)
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            throw CheckpointError("\(name): cannot rename the finished file into place (\(String(cString: strerror(errno))))")
        }
        done = true
    }
}

import Foundation

/// A small safetensors decoder for the I32/I64/F32 tensors of training shards (QwenVLCore's ``SafeTensorsFile``
/// maps float weights only; shards are written with ``SafeTensorsWriter``).
enum ShardTensorFile {
    /// Element values of one tensor.
    enum Values: Equatable {
        case int32([Int32])
        case float32([Float])

        var count: Int {
            switch self {
            case .int32(let v): v.count
            case .float32(let v): v.count
            }
        }
    }

    /// A named tensor with its row-major shape.
    struct Tensor: Equatable {
        var name: String
        var shape: [Int]
        var values: Values
    }

    /// Parses safetensors bytes holding I32/F32 (and I64, narrowed to I32 when in range) tensors.
    static func decode(_ data: Data, fileName: String) throws -> (metadata: [String: String], tensors: [String: Tensor]) {
        guard data.count >= 8 else {
            throw QwenVLError("\(fileName): truncated safetensors file (\(data.count) bytes; the 8-byte header length is missing)")
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw QwenVLError("\(fileName): header length \(headerLength) exceeds the file size (\(data.count) bytes)")
        }
        let dataStart = 8 + Int(headerLength)
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
                throw QwenVLError("\(fileName): safetensors header is not a JSON object")
            }
            object = parsed
        } catch let error as QwenVLError { throw error } catch {
            throw QwenVLError("\(fileName): safetensors header is not valid JSON")
        }
        let dataSize = data.count - dataStart
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        for (key, value) in object {
            if key == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any]).flatMap(integers), shape.allSatisfy({ $0 >= 0 }),
                  let offsets = (entry["data_offsets"] as? [Any]).flatMap(integers), offsets.count == 2 else {
                throw QwenVLError("\(fileName): tensor '\(key)' has an invalid header entry")
            }
            let width: Int
            switch dtype {
            case "I32", "F32": width = 4
            case "I64": width = 8
            default: throw QwenVLError("\(fileName): tensor '\(key)' has dtype \(dtype) (a shard holds I32, I64 or F32)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw QwenVLError("\(fileName): tensor '\(key)' data_offsets [\(begin), \(end)] are outside the \(dataSize)-byte data section (file truncated?)")
            }
            var elements = 1
            for dim in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw QwenVLError("\(fileName): tensor '\(key)' shape \(shape) is too large") }
                elements = product
            }
            guard elements * width == end - begin else {
                throw QwenVLError("\(fileName): tensor '\(key)' shape \(shape) × \(dtype) needs \(elements * width) bytes but data_offsets span \(end - begin)")
            }
            let bytes = data.subdata(in: (dataStart + begin)..<(dataStart + end))
            let values: Values = try bytes.withUnsafeBytes { raw in
                switch dtype {
                case "I32":
                    return .int32((0..<elements).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) })
                case "F32":
                    return .float32((0..<elements).map {
                        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                    })
                default:
                    var narrowed: [Int32] = []
                    narrowed.reserveCapacity(elements)
                    for i in 0..<elements {
                        let wide = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                        guard let value = Int32(exactly: wide) else {
                            throw QwenVLError("\(fileName): tensor '\(key)' value \(wide) does not fit in 32 bits")
                        }
                        narrowed.append(value)
                    }
                    return .int32(narrowed)
                }
            }
            tensors[key] = Tensor(name: key, shape: shape, values: values)
        }
        return (metadata, tensors)
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

import Foundation

/// Reads and writes float32 `.npy` files (NumPy format 1.0, little-endian, C order).
public enum NumpyFile {
    /// Encodes `values` with `shape` as an `.npy` file's bytes.
    public static func encode(_ values: [Float], shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: values.count * 4)) }
        return data
    }

    /// Writes atomically (temporary file, then rename), so a failure never leaves a partial file.
    public static func write(_ values: [Float], shape: [Int], to url: URL) throws {
        try encode(values, shape: shape).write(to: url, options: .atomic)
    }

    /// Reads a float32 (`<f4`) or uint8 (`|u1`) array; returns values as Float and the shape.
    public static func read(_ url: URL) throws -> (values: [Float], shape: [Int]) {
        let data = try Data(contentsOf: url)
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
            throw CheckpointError("\(url.lastPathComponent): not a .npy file")
        }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        } else {
            guard data.count >= 12 else { throw CheckpointError("\(url.lastPathComponent): truncated .npy header") }
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        }
        guard data.count >= headerStart + headerLength,
              let header = String(data: data[headerStart..<(headerStart + headerLength)], encoding: .ascii) else {
            throw CheckpointError("\(url.lastPathComponent): truncated .npy header")
        }
        guard !header.contains("'fortran_order': True") else { throw CheckpointError("\(url.lastPathComponent): Fortran order unsupported") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw CheckpointError("\(url.lastPathComponent): no shape in .npy header")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = data.subdata(in: (headerStart + headerLength)..<data.count)
        if header.contains("'<f4'") {
            guard body.count >= count * 4 else { throw CheckpointError("\(url.lastPathComponent): truncated .npy data") }
            let values = body.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            return (values, shape)
        }
        if header.contains("'|u1'") {
            guard body.count >= count else { throw CheckpointError("\(url.lastPathComponent): truncated .npy data") }
            return (body.prefix(count).map { Float($0) }, shape)
        }
        throw CheckpointError("\(url.lastPathComponent): unsupported .npy dtype")
    }
}

/// An 8-bit RGB image held in memory, the form every decoder returns and the resize works on.
///
/// `pixels` is interleaved RGB in raster order: shape `[height, width, 3]`, so the red sample of pixel
/// `(x, y)` is at `(y * width + x) * 3`.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels (≥ 1).
    public let width: Int
    /// Height in pixels (≥ 1).
    public let height: Int
    /// Samples, `[height, width, 3]` interleaved R, G, B.
    public var pixels: [UInt8]

    /// Wraps interleaved RGB samples; throws if the sizes do not agree.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw MediaError.invalidDimensions(width: width, height: height)
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count <= Int.max / 3, pixels.count == count * 3 else {
            throw MediaError.invalidDimensions(width: width, height: height)
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Internal unchecked initializer for decoders that already validated the sizes.
    init(uncheckedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The RGB triple at column `x`, row `y` (no bounds check beyond the array's own).
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

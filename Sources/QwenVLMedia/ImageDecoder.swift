import Foundation

/// Decodes JPEG, PNG, WebP, GIF and BMP into RGB exactly as qwen-vl-utils' `fetch_image` does with Pillow 11.3.
///
/// The reference is `to_rgb(Image.open(file))`:
/// - the format comes from the magic bytes, never the file name;
/// - Pillow opens the file in a mode (L, LA, P, RGB, RGBA, I;16, CMYK, …); an `RGBA` image is pasted onto
///   white with its alpha as the mask, every other mode goes through `convert("RGB")`, which drops alpha
///   and palette transparency without compositing (so an 8-bit grey+alpha PNG is *not* composited, while a
///   16-bit one, which Pillow opens as RGBA, is);
/// - EXIF orientation is **not** applied (fetch_image never calls `exif_transpose`); neither are ICC
///   profiles or PNG gamma.
///
/// ```swift
/// let image = try ImageDecoder().decode(Data(contentsOf: url))   // RGBImage, [height, width, 3]
/// ```
public struct ImageDecoder: Sendable {
    /// Pillow's decompression-bomb error threshold, `2 × Image.MAX_IMAGE_PIXELS` = 2 × 89,478,485.
    public static let defaultMaxPixels = 178_956_970

    /// Images whose header claims more than this many pixels are refused before any pixel memory is
    /// allocated.
    public var maxPixels: Int

    /// Creates a decoder refusing images larger than `maxPixels` pixels.
    public init(maxPixels: Int = ImageDecoder.defaultMaxPixels) {
        self.maxPixels = maxPixels
    }

    /// Decodes encoded image bytes (the first frame of animated GIF/WebP) to RGB.
    public func decode(_ data: Data) throws -> RGBImage {
        try data.withUnsafeBytes { try decode(bytes: $0) }
    }

    /// Decodes encoded image bytes (the first frame of animated GIF/WebP) to RGB.
    public func decode(_ bytes: [UInt8]) throws -> RGBImage {
        try bytes.withUnsafeBytes { try decode(bytes: $0) }
    }

    /// Reads and decodes the image file at `path`.
    public func decode(contentsOfFile path: String) throws -> RGBImage {
        try decode(ImageSource.readFile(path))
    }

    private func decode(bytes: UnsafeRawBufferPointer) throws -> RGBImage {
        guard !bytes.isEmpty else { throw MediaError.emptyInput }
        guard let format = ImageFormat.detect(bytes) else {
            throw MediaError.unsupportedFormat(magic: ImageFormat.describeMagic(bytes))
        }
        let input = bytes.assumingMemoryBound(to: UInt8.self)
        switch format {
        case .jpeg: return try JPEGDecoder.decode(input, limits: self)
        case .png: return try PNGDecoder.decode(input, limits: self)
        case .webp: return try WebPDecoder.decode(input, limits: self)
        case .gif: return try GIFDecoder.decode(input, limits: self)
        case .bmp: return try BMPDecoder.decode(input, limits: self)
        }
    }

    /// Throws `tooLarge` (or `invalidDimensions`) unless `width × height` is positive and within `maxPixels`.
    func checkSize(width: Int, height: Int) throws {
        guard width > 0, height > 0 else { throw MediaError.invalidDimensions(width: width, height: height) }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw MediaError.tooLarge(width: width, height: height, maxPixels: maxPixels)
        }
    }
}

import Foundation
import QwenVLMedia

/// The image budget and normalization constants of `preprocessor_config.json`.
public struct PreprocessorConfiguration: Sendable, Equatable {
    public var minPixels: Int = SmartResize.defaultMinPixels
    public var maxPixels: Int = SmartResize.defaultMaxPixels

    public init() {}

    /// Reads `preprocessor_config.json` (absent file: qwen-vl-utils defaults 3136 … 12,845,056).
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("preprocessor_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw QwenVLError("preprocessor_config.json: not valid JSON")
        }
        let reader = ConfigReader(primary: object["size"] as? [String: Any] ?? [:], fallback: object, section: "preprocessor_config.json")
        minPixels = try reader.int("min_pixels", default: try reader.int("shortest_edge", default: minPixels))
        maxPixels = try reader.int("max_pixels", default: try reader.int("longest_edge", default: maxPixels))
        guard minPixels > 0, maxPixels >= minPixels else {
            throw QwenVLError("preprocessor_config.json: need 0 < min_pixels ≤ max_pixels (got \(minPixels), \(maxPixels))")
        }
    }
}

/// One image made ready for the vision encoder.
public struct PreparedImage: Sendable {
    public var originalWidth: Int
    public var originalHeight: Int
    public var resizedWidth: Int
    public var resizedHeight: Int
    /// Grid in patches: (1, h/14, w/14).
    public var grid: VisionGrid
    /// Patch rows: [grid.patchCount, 1176].
    public var pixels: [Float]
    /// Tokens the image occupies in the prompt: patches / merge².
    public var tokenCount: Int
}

/// Turns image references into patch rows the way qwen-vl-utils + the HF processor do (spec §3).
///
/// Load (path, `file://`, `data:`, `http(s)://`) → decode to RGB (RGBA composited on white) → smart resize
/// within the image's pixel budget → Pillow-exact bicubic resize → normalize → patchify.
public struct ImageProcessor: Sendable {
    /// The budget used when an image does not give its own `min_pixels` / `max_pixels`.
    public var minPixels: Int
    public var maxPixels: Int
    public var patchSize = 14
    public var mergeSize = 2
    public var temporalPatchSize = 2
    public var decoder = ImageDecoder()
    public var limits = ImageSource.Limits()

    public init(minPixels: Int = SmartResize.defaultMinPixels, maxPixels: Int = SmartResize.defaultMaxPixels) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }

    /// The resize target of an image of `width × height` under this budget and the part's overrides.
    public func targetSize(width: Int, height: Int, for input: ImageInput) throws -> (height: Int, width: Int) {
        let factor = patchSize * mergeSize
        let minimum = input.minPixels ?? minPixels
        let maximum = input.maxPixels ?? maxPixels
        if let h = input.resizedHeight, let w = input.resizedWidth {
            return try SmartResize.size(height: h, width: w, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
        }
        return try SmartResize.size(height: height, width: width, factor: factor, minPixels: minimum, maxPixels: maximum)
    }

    /// Loads and prepares one image.
    public func prepare(_ input: ImageInput) async throws -> PreparedImage {
        let image: RGBImage
        do {
            image = try await ImageSource(reference: input.source).loadImage(decoder: decoder, limits: limits)
        } catch let error as MediaError {
            throw QwenVLError("image '\(Self.shortName(input.source))': \(error.description)")
        }
        return try prepare(image, input: input)
    }

    /// The image resized to its smart-resize target with Pillow's bicubic filter (qwen-vl-utils `fetch_image`).
    public func resized(_ image: RGBImage, input: ImageInput) throws -> RGBImage {
        let (h, w) = try targetSize(width: image.width, height: image.height, for: input)
        do {
            return (h == image.height && w == image.width) ? image : try BicubicResize.resize(image, width: w, height: h)
        } catch let error as MediaError {
            throw QwenVLError("image '\(Self.shortName(input.source))': \(error.description)")
        }
    }

    /// Loads, decodes and resizes an image (qwen-vl-utils `fetch_image`).
    public func fetch(_ input: ImageInput) async throws -> RGBImage {
        do {
            let image = try await ImageSource(reference: input.source).loadImage(decoder: decoder, limits: limits)
            return try resized(image, input: input)
        } catch let error as MediaError {
            throw QwenVLError("image '\(Self.shortName(input.source))': \(error.description)")
        }
    }

    /// Prepares an already decoded image.
    public func prepare(_ image: RGBImage, input: ImageInput) throws -> PreparedImage {
        let resized = try resized(image, input: input)
        let (h, w) = (resized.height, resized.width)
        let (values, grid) = PatchEmbedding.patchify(frames: [resized.pixels], height: h, width: w, patchSize: patchSize,
                                                     temporalPatch: temporalPatchSize, mergeSize: mergeSize)
        return PreparedImage(originalWidth: image.width, originalHeight: image.height, resizedWidth: w, resizedHeight: h,
                             grid: grid, pixels: values, tokenCount: grid.patchCount / (mergeSize * mergeSize))
    }

    /// A reference shortened for messages (data URLs are long).
    static func shortName(_ source: String) -> String {
        source.hasPrefix("data:") ? String(source.prefix(32)) + "…" : source
    }
}

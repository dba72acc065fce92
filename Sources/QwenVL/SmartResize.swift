import Foundation

/// Naive dynamic resolution: the size an image is resized to before patching (spec §3.2).
///
/// Both sides become multiples of `factor` (patch 14 × merge 2 = 28), rounded half-to-even like Python's
/// `round`, the pixel count is brought inside [minPixels, maxPixels] keeping the aspect ratio as far as rounding
/// allows, and aspect ratios above 200 are refused. No cropping, no padding: the full frame is stretched.
public enum SmartResize {
    /// qwen-vl-utils' image budget: 4·28² … 16384·28².
    public static let defaultMinPixels = 3136
    public static let defaultMaxPixels = 12_845_056
    /// Largest aspect ratio accepted.
    public static let maxAspectRatio = 200.0

    /// (height, width) after smart resize.
    public static func size(height: Int, width: Int, factor: Int = 28, minPixels: Int = defaultMinPixels,
                            maxPixels: Int = defaultMaxPixels) throws -> (height: Int, width: Int) {
        guard height > 0, width > 0 else { throw QwenVLError("image has an empty side (\(width)×\(height))") }
        let H = Double(height), W = Double(width), f = Double(factor)
        let ratio = max(H, W) / min(H, W)
        guard ratio <= maxAspectRatio else {
            throw QwenVLError("image aspect ratio \(String(format: "%.1f", ratio)) is above \(Int(maxAspectRatio)) (\(width)×\(height))")
        }
        guard minPixels <= maxPixels else { throw QwenVLError("min_pixels (\(minPixels)) is larger than max_pixels (\(maxPixels))") }
        var h = max(f, (H / f).rounded(.toNearestOrEven) * f)
        var w = max(f, (W / f).rounded(.toNearestOrEven) * f)
        if h * w > Double(maxPixels) {
            let beta = ((H * W) / Double(maxPixels)).squareRoot()
            h = max(f, (H / beta / f).rounded(.down) * f)
            w = max(f, (W / beta / f).rounded(.down) * f)
        } else if h * w < Double(minPixels) {
            let beta = (Double(minPixels) / (H * W)).squareRoot()
            h = (H * beta / f).rounded(.up) * f
            w = (W * beta / f).rounded(.up) * f
        }
        return (Int(h), Int(w))
    }
}

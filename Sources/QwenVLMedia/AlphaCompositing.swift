/// Pastes RGBA onto an opaque white canvas with alpha as the mask, bit-exact with Pillow.
///
/// qwen-vl-utils' `to_rgb` runs `Image.new("RGB", size, (255, 255, 255)).paste(image, mask=alpha)`. Pillow's
/// `paste_mask_L` (libImaging/Paste.c) computes each channel as
/// `BLEND(a, 255, c) = DIV255(255·(255 − a) + c·a)` with `DIV255(x) = ((x + 128) + ((x + 128) >> 8)) >> 8`.
enum AlphaCompositing {
    /// One channel `c` with alpha `a`, blended onto white.
    @inline(__always)
    static func onWhite(_ c: UInt8, alpha a: UInt8) -> UInt8 {
        let t = 255 &* (255 &- UInt32(a)) &+ UInt32(c) &* UInt32(a) &+ 128
        return UInt8(truncatingIfNeeded: ((t >> 8) &+ t) >> 8)
    }

    /// Interleaved RGBA (`[pixels, 4]`) → interleaved RGB on white (`[pixels, 3]`).
    static func rgbaOnWhite(_ rgba: UnsafeBufferPointer<UInt8>, pixelCount: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pixelCount * 3) { out, initialized in
            for i in 0..<pixelCount {
                let a = rgba[i * 4 + 3]
                out[i * 3] = onWhite(rgba[i * 4], alpha: a)
                out[i * 3 + 1] = onWhite(rgba[i * 4 + 1], alpha: a)
                out[i * 3 + 2] = onWhite(rgba[i * 4 + 2], alpha: a)
            }
            initialized = pixelCount * 3
        }
    }
}

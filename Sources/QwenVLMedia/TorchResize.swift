import Foundation

/// torchvision's tensor resize, BICUBIC with antialias, for 8-bit RGB: how qwen-vl-utils resizes video frames.
///
/// qwen-vl-utils calls `torchvision.transforms.functional.resize(video_uint8, [h, w], BICUBIC, antialias=True)`.
/// torchvision's v1 tensor path (0.17 … 0.29) turns the frames into float32, runs
/// `torch.nn.functional.interpolate(mode="bicubic", antialias=True, align_corners=False)`, clamps to [0, 255],
/// rounds half-to-even and converts back to uint8 (spec §4.1). The interpolation is separable, width pass first
/// then height pass, with a float32 intermediate; a pass whose size is unchanged is skipped, and an unchanged size
/// returns the input untouched. Per axis (torch `_compute_indices_min_size_weights_aa`, all in float32):
/// - `scale = in / out`, `support = 2·max(scale, 1)`, taps `[xmin, xmin + count)` with
///   `xmin = max(0, trunc(center − support + 0.5))`, `count = min(in, trunc(center + support + 0.5)) − xmin`,
///   `center = scale·(i + 0.5)`;
/// - weight `K((j + xmin − center + 0.5) / max(scale, 1))`, Keys' cubic with a = −0.5 (the same filter as Pillow's
///   BICUBIC, but in floating point: no 22-bit fixed-point weights, no 8-bit intermediate), normalised by the sum.
///
/// Float rounding follows torch 2.13's x86-64 CPU build bit for bit: the filter's polynomials are evaluated with
/// fused multiply-adds, and an output sample is `x₀·w₀`, then `+ xⱼ·wⱼ` rounded separately for the first
/// `4·⌊(n−1)/4⌋` further taps (the vectorised part of the loop) and fused for the rest. Other builds of torch may
/// differ in the last float bit, which moves a result by one grey level only when it lands on a .5 boundary.
///
/// ```swift
/// let frame = try TorchResize.resize(decoded, width: 644, height: 364)
/// // many frames of one video share a plan (weights computed once):
/// let plan = try TorchResize.Plan(sourceWidth: 1280, sourceHeight: 720, width: 644, height: 364)
/// let resized = try frames.map { try plan.apply($0) }
/// ```
public enum TorchResize {
    /// `image` resized to `width × height` exactly as torchvision's v1 tensor `resize` (BICUBIC, antialias) does.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        try Plan(sourceWidth: image.width, sourceHeight: image.height, width: width, height: height).apply(image)
    }

    /// Precomputed weights for one source size → target size, reusable across the frames of a video.
    public struct Plan: Sendable {
        public let sourceWidth: Int
        public let sourceHeight: Int
        public let width: Int
        public let height: Int
        /// Width pass (nil when the width is unchanged).
        let horizontal: TorchResampleWeights?
        /// Height pass (nil when the height is unchanged).
        let vertical: TorchResampleWeights?

        /// Validates the sizes and computes the per-axis weights.
        public init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) throws {
            let limit = 1 << 24  // sizes stay exact in Float
            guard sourceWidth > 0, sourceHeight > 0, sourceWidth <= limit, sourceHeight <= limit else {
                throw MediaError.invalidDimensions(width: sourceWidth, height: sourceHeight)
            }
            guard width > 0, height > 0, width <= limit, height <= limit,
                  width.multipliedReportingOverflow(by: height * 3).overflow == false else {
                throw MediaError.invalidDimensions(width: width, height: height)
            }
            self.sourceWidth = sourceWidth
            self.sourceHeight = sourceHeight
            self.width = width
            self.height = height
            horizontal = width == sourceWidth ? nil : TorchResampleWeights(inSize: sourceWidth, outSize: width)
            vertical = height == sourceHeight ? nil : TorchResampleWeights(inSize: sourceHeight, outSize: height)
        }

        /// Resizes one image of the plan's source size.
        public func apply(_ image: RGBImage) throws -> RGBImage {
            guard image.width == sourceWidth, image.height == sourceHeight else {
                throw MediaError.invalidDimensions(width: image.width, height: image.height)
            }
            switch (horizontal, vertical) {
            case (nil, nil):
                return image
            case (let h?, nil):
                let out = TorchResize.horizontalPass(image.pixels, rows: sourceHeight, inWidth: sourceWidth, h,
                                                     write: TorchResize.ByteSink.self)
                return RGBImage(uncheckedWidth: width, height: height, pixels: out)
            case (nil, let v?):
                let floats = image.pixels.map { Float($0) }  // [H, W, 3] as float32
                return RGBImage(uncheckedWidth: width, height: height,
                                pixels: TorchResize.verticalPass(floats, rowLength: sourceWidth * 3, v))
            case (let h?, let v?):
                let temp = TorchResize.horizontalPass(image.pixels, rows: sourceHeight, inWidth: sourceWidth, h,
                                                      write: TorchResize.FloatSink.self)  // [H, w, 3]
                return RGBImage(uncheckedWidth: width, height: height,
                                pixels: TorchResize.verticalPass(temp, rowLength: width * 3, v))
            }
        }
    }

    // MARK: - passes

    /// How the width pass stores a sample: float32 (an intermediate) or the final clamped, rounded byte.
    protocol Sink { associatedtype Element; static func store(_ value: Float) -> Element }
    enum FloatSink: Sink { static func store(_ value: Float) -> Float { value } }
    enum ByteSink: Sink { static func store(_ value: Float) -> UInt8 { TorchResize.toByte(value) } }

    /// Width pass over `rows` rows of `source` (`[rows, inWidth, 3]` bytes) → `[rows, outSize, 3]`.
    /// A pixel's three channels go through the same taps, so they are processed as one `SIMD4<Float>` (R, G, B, 0);
    /// lanes are independent, so the rounding of each channel is the scalar one.
    static func horizontalPass<S: Sink>(_ source: [UInt8], rows: Int, inWidth: Int, _ c: TorchResampleWeights,
                                        write: S.Type) -> [S.Element] {
        let outWidth = c.outSize, ksize = c.ksize, count = rows * outWidth * 3
        return [S.Element](unsafeUninitializedCapacity: count) { out, initialized in
            let out = UncheckedPointer(out.baseAddress!)
            source.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { weights in
                    c.bounds.withUnsafeBufferPointer { bounds in
                        forEachBlock(rows, work: outWidth * 3 * ksize) { block in
                            var pixels = [SIMD4<Float>](repeating: .zero, count: inWidth)
                            pixels.withUnsafeMutableBufferPointer { px in
                                for r in block {
                                    let row = r * inWidth * 3
                                    for x in 0..<inWidth {
                                        let p = row + 3 * x
                                        px[x] = SIMD4(Float(src[p]), Float(src[p + 1]), Float(src[p + 2]), 0)
                                    }
                                    var o = r * outWidth * 3
                                    for xx in 0..<outWidth {
                                        let start = Int(bounds[2 * xx]), n = Int(bounds[2 * xx + 1]), k = xx * ksize
                                        var s = px[start] * weights[k]
                                        let split = TorchResampleWeights.unfusedTaps(n)
                                        var j = 1
                                        while j <= split {  // vectorised in torch: product rounded, then added
                                            s = s + px[start + j] * weights[k + j]
                                            j += 1
                                        }
                                        while j < n {  // scalar remainder in torch: fused
                                            s = s.addingProduct(px[start + j], weights[k + j])
                                            j += 1
                                        }
                                        out.value[o] = S.store(s[0])
                                        out.value[o + 1] = S.store(s[1])
                                        out.value[o + 2] = S.store(s[2])
                                        o += 3
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Height pass: output row `yy` mixes rows `start(yy) …` of `source` (`[*, rowLength]` floats) →
    /// `[outSize, rowLength]` bytes (clamped, rounded half-to-even).
    static func verticalPass(_ source: [Float], rowLength: Int, _ c: TorchResampleWeights) -> [UInt8] {
        let outHeight = c.outSize, ksize = c.ksize, count = outHeight * rowLength
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            let out = UncheckedPointer(out.baseAddress!)
            source.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { weights in
                    forEachBlock(outHeight, work: rowLength * ksize) { block in
                        var acc = [Float](repeating: 0, count: rowLength)
                        acc.withUnsafeMutableBufferPointer { acc in
                            for yy in block {
                                let start = c.start(yy), n = c.count(yy), k = yy * ksize
                                let split = TorchResampleWeights.unfusedTaps(n)
                                var base = start * rowLength
                                let w0 = weights[k]
                                for i in 0..<rowLength { acc[i] = src[base + i] * w0 }
                                for j in 1..<max(n, 1) {
                                    base += rowLength
                                    let w = weights[k + j]
                                    if j <= split {
                                        for i in 0..<rowLength { acc[i] = acc[i] + src[base + i] * w }
                                    } else {
                                        for i in 0..<rowLength { acc[i] = acc[i].addingProduct(src[base + i], w) }
                                    }
                                }
                                let o = yy * rowLength
                                for i in 0..<rowLength { out.value[o + i] = toByte(acc[i]) }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// torchvision's `clamp(0, 255)`, `round` (half-to-even), `to(uint8)`.
    @inline(__always)
    static func toByte(_ value: Float) -> UInt8 {
        let clamped = value < 0 ? 0 : (value > 255 ? 255 : value)  // NaN cannot occur: weights and inputs are finite
        return UInt8(clamped.rounded(.toNearestOrEven))
    }

    /// Runs `body` over `0..<count` in contiguous blocks, in parallel when the job is big enough (`work` ≈
    /// multiply-adds per item). Items write disjoint outputs, so the split does not change the result.
    private static func forEachBlock(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        guard threads > 1, count >= 2, count * work >= 1 << 18 else {
            body(0..<count)
            return
        }
        let blocks = min(count, threads * 4)
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedClosure(body)
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                shared.value((count * b / blocks)..<(count * (b + 1) / blocks))
            }
        }
    }
}

/// A closure over disjoint output rows, handed to worker threads.
private struct UncheckedClosure: @unchecked Sendable {
    let value: (Range<Int>) -> Void
    init(_ value: @escaping (Range<Int>) -> Void) { self.value = value }
}

/// An output buffer written by several workers, each to its own rows.
private struct UncheckedPointer<Element>: @unchecked Sendable {
    let value: UnsafeMutablePointer<Element>
    init(_ value: UnsafeMutablePointer<Element>) { self.value = value }
}

/// Float32 filter taps of one axis of torch's antialiased bicubic interpolation
/// (`HelperInterpCubic::compute_index_ranges_weights` with `antialias=true`, `align_corners=false`).
struct TorchResampleWeights: Sendable {
    let inSize: Int
    let outSize: Int
    /// Maximum taps per output sample: `ceil(support)·2 + 1`.
    let ksize: Int
    /// `[outSize, 2]`: first source index and number of taps for each output index.
    let bounds: [Int32]
    /// `[outSize, ksize]`: normalised weights (unused tail entries are 0).
    let weights: [Float]

    init(inSize: Int, outSize: Int) {
        self.inSize = inSize
        self.outSize = outSize
        // C++ mixes float and double here; each step below keeps the type the C++ expression has.
        let scale = Float(inSize) / Float(outSize)
        let support: Float = scale >= 1 ? Float(2.0 * Double(scale)) : 2  // (interp_size · 0.5) · scale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        let invscale: Float = scale >= 1 ? Float(1.0 / Double(scale)) : 1
        self.ksize = ksize
        var bounds = [Int32](repeating: 0, count: outSize * 2)
        var weights = [Float](repeating: 0, count: outSize * ksize)
        for i in 0..<outSize {
            let center = Float(Double(scale) * (Double(i) + 0.5))
            let xmin = max(Int(Double(center - support) + 0.5), 0)  // static_cast<int64_t>: toward zero
            var count = min(Int(Double(center + support) + 0.5), inSize) - xmin
            count = min(max(count, 0), ksize)
            var total: Float = 0
            for j in 0..<count {
                let x = Float((Double(Float(j + xmin) - center) + 0.5) * Double(invscale))
                let w = Self.filter(x)
                weights[i * ksize + j] = w
                total += w
            }
            if total != 0 {
                for j in 0..<count { weights[i * ksize + j] /= total }
            }
            bounds[2 * i] = Int32(xmin)
            bounds[2 * i + 1] = Int32(count)
        }
        self.bounds = bounds
        self.weights = weights
    }

    @inline(__always) func start(_ i: Int) -> Int { Int(bounds[2 * i]) }
    @inline(__always) func count(_ i: Int) -> Int { Int(bounds[2 * i + 1]) }

    /// Taps after the first that torch adds with a separately rounded product: `4·⌊(n − 1)/4⌋`.
    @inline(__always) static func unfusedTaps(_ n: Int) -> Int { n > 0 ? (n - 1) / 4 * 4 : 0 }

    /// Keys' cubic (a = −0.5) in float32, with the fused multiply-adds torch's compiled kernel uses:
    /// |x| < 1: `((a+2)·x − (a+3))·x·x + 1`; 1 ≤ |x| < 2: `((a·x − 5a)·x + 8a)·x − 4a`.
    @inline(__always)
    static func filter(_ value: Float) -> Float {
        let a: Float = -0.5
        let x = abs(value)
        if x < 1 {
            let t = (-(a + 3)).addingProduct(a + 2, x)
            return Float(1).addingProduct(t * x, x)
        }
        if x < 2 {
            var t = (-(5 * a)).addingProduct(a, x)
            t = (8 * a).addingProduct(t, x)
            return (-(4 * a)).addingProduct(t, x)
        }
        return 0
    }
}

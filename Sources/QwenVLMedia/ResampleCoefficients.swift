import Foundation

/// The fixed-point filter taps for one axis of Pillow's bicubic resample (`precompute_coeffs` followed by
/// `normalize_coeffs_8bpc` in libImaging/Resample.c), for the full box `[0, inSize)`.
struct ResampleCoefficients: Sendable {
    let inSize: Int
    let outSize: Int
    /// Maximum taps per output sample: `ceil(support)·2 + 1`.
    let ksize: Int
    /// `[outSize, 2]`: first source index and number of taps for each output index.
    let bounds: [Int32]
    /// `[outSize, ksize]`: Int32 weights scaled by 2²² (unused tail entries are 0).
    let weights: [Int32]

    init(inSize: Int, outSize: Int) {
        self.inSize = inSize
        self.outSize = outSize
        // Pillow: filterscale = scale = (double)(in1 - in0) / outSize, with in0 = 0 and in1 = (float)inSize.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 2.0 * filterScale  // BICUBIC support 2
        let ksize = Int(support.rounded(.up)) * 2 + 1
        self.ksize = ksize
        var bounds = [Int32](repeating: 0, count: outSize * 2)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1.0 / filterScale
        let one = Double(1 << BicubicResize.precisionBits)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C (int): truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var sum = 0.0
            for x in 0..<xmax {
                let w = Self.bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                sum += w
            }
            for x in 0..<xmax where sum != 0.0 { k[x] /= sum }
            for x in 0..<xmax {
                let w = k[x]
                weights[xx * ksize + x] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
            }
            bounds[2 * xx] = Int32(xmin)
            bounds[2 * xx + 1] = Int32(xmax)
        }
        self.bounds = bounds
        self.weights = weights
    }

    /// First source index read for output index `i`.
    @inline(__always) func start(_ i: Int) -> Int { Int(bounds[2 * i]) }
    /// Number of source samples read for output index `i`.
    @inline(__always) func count(_ i: Int) -> Int { Int(bounds[2 * i + 1]) }

    /// Keys' cubic convolution kernel with a = −0.5, written with Pillow's operation order.
    @inline(__always)
    static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        let x = value < 0 ? -value : value
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }
}

import Foundation

/// Pillow 11.3's BICUBIC resize (`Image.resize((w, h))`, the filter qwen-vl-utils uses), bit-exact.
///
/// Port of libImaging/Resample.c for 8-bit images (spec §3.3):
/// - per axis, for each output index: `center = (i + 0.5)·scale`, support `2·max(scale, 1)`, taps
///   `[xmin, xmin + count)` with `xmin = max(0, trunc(center − support + 0.5))`,
///   `count = min(in, trunc(center + support + 0.5)) − xmin`; weights `K((j + xmin − center + 0.5)/fs)` with
///   Keys' cubic, a = −0.5, normalised by their sum, then fixed point: `trunc(w·2²² ± 0.5)` (Int32);
/// - a sample is `clip8((2²¹ + Σ src·k) >> 22)` with an Int32 accumulator;
/// - the horizontal pass runs first (Pillow ≤ 12.1), writing a clipped UInt8 intermediate for only the
///   source rows the vertical pass reads; a pass whose size is unchanged is skipped; both unchanged = copy.
///
/// ```swift
/// let small = try BicubicResize.resize(image, width: 644, height: 476)
/// ```
public enum BicubicResize {
    /// Fixed-point precision of the weights (Pillow's PRECISION_BITS = 32 − 8 − 2).
    static let precisionBits = 22

    /// Returns `image` resized to `width × height` exactly as Pillow 11.3 `Image.resize` does for RGB.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0, width <= Int(Int32.max) / 16, height <= Int(Int32.max) / 16 else {
            throw MediaError.invalidDimensions(width: width, height: height)
        }
        let needHorizontal = width != image.width
        let needVertical = height != image.height
        if !needHorizontal && !needVertical { return image }

        let horizontal = ResampleCoefficients(inSize: image.width, outSize: width)
        let vertical = ResampleCoefficients(inSize: image.height, outSize: height)

        if !needVertical {
            let out = horizontalPass(image.pixels, inWidth: image.width, rows: 0..<image.height, horizontal)
            return RGBImage(uncheckedWidth: width, height: height, pixels: out)
        }
        if !needHorizontal {
            let out = verticalPass(image.pixels, width: image.width, rowOffset: 0, vertical)
            return RGBImage(uncheckedWidth: width, height: height, pixels: out)
        }
        // Only the source rows the vertical pass reads: [first tap of row 0, last tap of the last row].
        let firstRow = vertical.start(0)
        let lastRow = vertical.start(height - 1) + vertical.count(height - 1)
        let temp = horizontalPass(image.pixels, inWidth: image.width, rows: firstRow..<lastRow, horizontal)
        let out = verticalPass(temp, width: width, rowOffset: firstRow, vertical)
        return RGBImage(uncheckedWidth: width, height: height, pixels: out)
    }

    /// Resamples each row in `rows` of `source` ([*, inWidth, 3]) to `[rows.count, outSize, 3]`.
    static func horizontalPass(_ source: [UInt8], inWidth: Int, rows: Range<Int>,
                               _ c: ResampleCoefficients) -> [UInt8] {
        let outWidth = c.outSize, ksize = c.ksize
        let count = rows.count * outWidth * 3
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            source.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { weights in
                    c.bounds.withUnsafeBufferPointer { bounds in
                        let half = Int32(1) << Int32(precisionBits - 1)
                        forEachBlock(rows.count, work: outWidth * ksize) { block in
                            for r in block {
                                let row = (rows.lowerBound + r) * inWidth * 3
                                var o = r * outWidth * 3
                                for xx in 0..<outWidth {
                                    let xmin = Int(bounds[2 * xx]), taps = Int(bounds[2 * xx + 1])
                                    let k = xx * ksize
                                    var s0 = half, s1 = half, s2 = half
                                    var p = row + xmin * 3
                                    for t in 0..<taps {
                                        let w = weights[k + t]
                                        s0 &+= Int32(src[p]) &* w
                                        s1 &+= Int32(src[p + 1]) &* w
                                        s2 &+= Int32(src[p + 2]) &* w
                                        p += 3
                                    }
                                    out[o] = clip8(s0)
                                    out[o + 1] = clip8(s1)
                                    out[o + 2] = clip8(s2)
                                    o += 3
                                }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Resamples columns: output row `yy` mixes source rows `start(yy) − rowOffset …` of `source`
    /// ([*, width, 3]); returns `[outSize, width, 3]`.
    static func verticalPass(_ source: [UInt8], width: Int, rowOffset: Int, _ c: ResampleCoefficients) -> [UInt8] {
        let rowLength = width * 3, outHeight = c.outSize, ksize = c.ksize
        let count = outHeight * rowLength
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            source.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { weights in
                    let half = Int32(1) << Int32(precisionBits - 1)
                    forEachBlock(outHeight, work: rowLength * ksize) { block in
                        var acc = [Int32](repeating: 0, count: rowLength)
                        acc.withUnsafeMutableBufferPointer { acc in
                            for yy in block {
                                let ymin = c.start(yy) - rowOffset, taps = c.count(yy)
                                for i in 0..<rowLength { acc[i] = half }
                                for t in 0..<taps {
                                    let w = weights[yy * ksize + t]
                                    let base = (ymin + t) * rowLength
                                    // Integer sums: the order of the taps cannot change the result.
                                    for i in 0..<rowLength { acc[i] &+= Int32(src[base + i]) &* w }
                                }
                                let o = yy * rowLength
                                for i in 0..<rowLength { out[o + i] = clip8(acc[i]) }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
    }

    /// Runs `body` over `0..<count` split into contiguous blocks, in parallel when the job is big enough
    /// (`work` ≈ multiply-adds per item). Each item writes only its own output, so the result does not
    /// depend on the split.
    private static func forEachBlock(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        guard threads > 1, count >= 2, count * work >= 1 << 20 else {
            body(0..<count)
            return
        }
        let blocks = min(count, threads * 4)
        withoutActuallyEscaping(body) { body in
            // The blocks write disjoint rows of the output, so sharing the closure across threads is safe.
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: blocks) { b in
                shared.value((count * b / blocks)..<(count * (b + 1) / blocks))
            }
        }
    }

    /// Pillow's `clip8`: `(sum >> 22)` clamped to 0…255.
    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> Int32(precisionBits)
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
    }
}

/// Lets `forEachBlock` hand a closure over disjoint output rows to worker threads.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension RGBImage {
    /// This image resized to `width × height` with Pillow 11.3's BICUBIC filter (see ``BicubicResize``).
    public func resized(width: Int, height: Int) throws -> RGBImage {
        try BicubicResize.resize(self, width: width, height: height)
    }
}

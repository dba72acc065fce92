import CFFmpeg

/// Converts decoded frames to RGB24 exactly as PyAV's `frame.to_ndarray(format="rgb24")` does by default.
///
/// PyAV (18.x) calls `sws_scale_frame` with `SWS_BILINEAR` and no size change, taking the source colour matrix
/// and range from the frame: `colorspace` picks the YUV→RGB coefficients (`sws_getCoefficients`, which treats
/// unspecified as BT.601) and `color_range == JPEG` (or a `yuvj*` pixel format) selects full-range input,
/// otherwise limited (16–235). The output is full-range RGB. This class sets up libswscale the same way through
/// `sws_getContext` + `sws_setColorspaceDetails`, so RGB sources (FFV1 `bgr0`/`gbrp`, PNG) convert losslessly
/// and YUV sources go through the same integer converter.
final class VideoColorConverter {
    private struct Setup: Equatable {
        var width: Int32
        var height: Int32
        var format: Int32
        var colorspace: UInt32
        var fullRange: Bool
    }

    private var context: OpaquePointer?
    private var setup: Setup?
    private var buffer: UnsafeMutablePointer<UInt8>?
    private var bufferStride = 0
    private var bufferCapacity = 0

    deinit {
        sws_freeContext(context)
        av_free(buffer)
    }

    /// Returns the frame as RGB24 `[height, width, 3]`; throws for unsupported pixel formats or sizes.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, maxPixels: Int, path: String) throws -> RGBImage {
        let width = frame.pointee.width
        let height = frame.pointee.height
        guard width > 0, height > 0, Int(width) * Int(height) <= maxPixels else {
            throw VideoError.invalidDimensions(width: Int(width), height: Int(height), maxPixels: maxPixels)
        }
        let format = frame.pointee.format
        let pixelFormat = AVPixelFormat(rawValue: format)
        let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || Self.isJPEGRangeFormat(pixelFormat)
        let wanted = Setup(width: width, height: height, format: format,
                           colorspace: frame.pointee.colorspace.rawValue, fullRange: fullRange)
        if wanted != setup {
            try configure(wanted, pixelFormat: pixelFormat, path: path)
        }
        guard let context, let buffer else { throw VideoError.outOfMemory(what: "converting a frame to RGB") }

        var data = frame.pointee.data
        var lines = frame.pointee.linesize
        var dst: [UnsafeMutablePointer<UInt8>?] = [buffer, nil, nil, nil]
        var dstStride: [Int32] = [Int32(bufferStride), 0, 0, 0]
        let rows = withUnsafePointer(to: &data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                withUnsafePointer(to: &lines) { lineTuple in
                    lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                        sws_scale(context, src, srcStride, 0, height, &dst, &dstStride)
                    }
                }
            }
        }
        guard rows == height else {
            throw VideoError.decodeFailed(path: path, reason: "converting a \(Self.name(pixelFormat)) frame to RGB "
                                          + "failed (\(rows < 0 ? ffmpegErrorString(rows) : "\(rows) rows"))")
        }
        // Copy the (stride-padded) rows into a tight [height, width, 3] array.
        // (swscale writes to the 64-byte-aligned buffer, as PyAV's frames are, so it takes the same SIMD path.)
        let rowBytes = Int(width) * 3
        let stride = bufferStride
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * Int(height)) { out, initialized in
            if let base = out.baseAddress {
                for y in 0..<Int(height) {
                    (base + y * rowBytes).initialize(from: buffer + y * stride, count: rowBytes)
                }
            }
            initialized = rowBytes * Int(height)
        }
        return RGBImage(uncheckedWidth: Int(width), height: Int(height), pixels: pixels)
    }

    /// (Re)creates the scaler and the output buffer for a new frame geometry or colour setup.
    private func configure(_ wanted: Setup, pixelFormat: AVPixelFormat, path: String) throws {
        sws_freeContext(context)
        context = nil
        setup = nil
        guard sws_isSupportedInput(pixelFormat) > 0 else {
            throw VideoError.decodeFailed(path: path, reason: "pixel format \(Self.name(pixelFormat)) cannot be "
                                          + "converted to RGB")
        }
        guard let created = sws_getContext(wanted.width, wanted.height, pixelFormat,
                                           wanted.width, wanted.height, AV_PIX_FMT_RGB24,
                                           SWS_BILINEAR, nil, nil, nil) else {
            throw VideoError.decodeFailed(path: path, reason: "cannot convert \(Self.name(pixelFormat)) "
                                          + "\(wanted.width)×\(wanted.height) to RGB")
        }
        context = created
        // Same as PyAV: source matrix from the frame's colorspace (sws_getCoefficients maps AVColorSpace
        // values; unspecified → BT.601), source range from the frame, full-range RGB out, neutral
        // brightness/contrast/saturation. The call fails harmlessly (returns -1) for RGB→RGB conversions.
        _ = sws_setColorspaceDetails(created, sws_getCoefficients(Int32(bitPattern: wanted.colorspace)),
                                     wanted.fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     0, 1 << 16, 1 << 16)
        let stride = (Int(wanted.width) * 3 + 63) & ~63
        let bytes = stride * Int(wanted.height) + 64
        if bytes > bufferCapacity || buffer == nil {
            av_free(buffer)
            bufferCapacity = 0
            buffer = av_malloc(bytes)?.assumingMemoryBound(to: UInt8.self)
            guard buffer != nil else { throw VideoError.outOfMemory(what: "allocating an RGB frame buffer") }
            bufferCapacity = bytes
        }
        bufferStride = stride
        setup = wanted
    }

    /// `yuvj*` formats imply full-range input (swscale and PyAV both treat them so).
    private static func isJPEGRangeFormat(_ format: AVPixelFormat) -> Bool {
        format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P || format == AV_PIX_FMT_YUVJ444P
            || format == AV_PIX_FMT_YUVJ440P || format == AV_PIX_FMT_YUVJ411P
    }

    /// FFmpeg's name of a pixel format.
    static func name(_ format: AVPixelFormat) -> String {
        av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown (\(format.rawValue))"
    }
}

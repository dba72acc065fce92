import CFFmpeg

/// Display-matrix rotation: reading it from a stream and applying it to RGB frames.
enum VideoRotation {
    /// Clockwise degrees (0, 90, 180, 270) the stream must be turned to display upright, as the `ffmpeg` CLI
    /// computes it: `-av_display_rotation_get(matrix)` rounded to whole degrees and normalised to [0, 360), or the
    /// legacy `rotate` metadata tag when the stream has no display matrix. Angles that are not multiples of 90°
    /// are ignored (0), as are mirrorings (the CLI in FFmpeg 5.1 ignores those too).
    static func clockwiseDegrees(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var theta: Double
        if let matrix = cffmpeg_stream_display_matrix(stream) {
            theta = -av_display_rotation_get(matrix)
            if theta.isNaN { return 0 }
        } else if let entry = av_dict_get(stream.pointee.metadata, "rotate", nil, 0),
                  let value = entry.pointee.value, let parsed = Double(String(cString: value)) {
            theta = parsed
        } else {
            return 0
        }
        theta = theta.rounded()
        theta -= 360 * (theta / 360).rounded(.down)
        let degrees = Int(theta)
        return degrees % 90 == 0 ? degrees % 360 : 0
    }

    /// `image` turned clockwise by `degrees` (0, 90, 180 or 270); other values return it unchanged.
    /// 90 and 270 swap width and height. Same pixels as `ffmpeg -vf transpose=clock / cclock`.
    static func rotate(_ image: RGBImage, clockwise degrees: Int) -> RGBImage {
        let width = image.width
        let height = image.height
        switch degrees {
        case 90, 270:
            // out: [width rows, height cols]; clockwise: out(x', y') = in(x = y', y = height−1−x')
            var out = [UInt8](repeating: 0, count: image.pixels.count)
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<height {
                        let srcRow = y * width * 3
                        let outX = degrees == 90 ? height - 1 - y : y
                        for x in 0..<width {
                            let outY = degrees == 90 ? x : width - 1 - x
                            let o = (outY * height + outX) * 3
                            let i = srcRow + x * 3
                            dst[o] = src[i]
                            dst[o + 1] = src[i + 1]
                            dst[o + 2] = src[i + 2]
                        }
                    }
                }
            }
            return RGBImage(uncheckedWidth: height, height: width, pixels: out)
        case 180:
            var out = [UInt8](repeating: 0, count: image.pixels.count)
            let count = width * height
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for p in 0..<count {
                        let o = (count - 1 - p) * 3
                        dst[o] = src[p * 3]
                        dst[o + 1] = src[p * 3 + 1]
                        dst[o + 2] = src[p * 3 + 2]
                    }
                }
            }
            return RGBImage(uncheckedWidth: width, height: height, pixels: out)
        default:
            return image
        }
    }
}

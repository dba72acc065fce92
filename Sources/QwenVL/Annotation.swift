import QwenVLMedia

/// Draws grounding boxes onto an image: outlined rectangles or quadrilaterals, one colour per label, each
/// labelled in a filled tag.
///
/// Pixel geometry: a normalized coordinate `v` (0…1000) maps to pixel column `round(v/1000·W)` (row
/// `round(v/1000·H)`), clamped to the image, so 1000 lands on the last column or row. A rectangle's outline
/// lies on those outer columns and rows and grows inward by the line width, so the outer edge is exactly
/// where the coordinates say. Quads are closed polygons through their 4 points, drawn with a square brush
/// of the line width centred on each edge. The tag holding the label (5×7 ``BitmapFont``, non-ASCII as `?`)
/// sits just above the shape's top-left corner, or inside the shape's top when there is no room above, and
/// is always kept inside the image.
///
/// ```swift
/// let annotated = Annotation.draw(boxes: Grounding.parse(text), on: image)
/// try PNGEncoder.write(annotated, to: URL(fileURLWithPath: "out.png"))
/// ```
public enum Annotation {
    /// An 8-bit RGB colour.
    public struct Color: Sendable, Hashable {
        public var r: UInt8, g: UInt8, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    }

    /// Outline colours, assigned to labels in order of first appearance (then repeating).
    public static let palette: [Color] = [
        Color(230, 25, 75), Color(60, 180, 75), Color(0, 130, 200), Color(245, 130, 48), Color(145, 30, 180),
        Color(70, 240, 240), Color(240, 50, 230), Color(255, 225, 25), Color(0, 128, 128), Color(170, 110, 40),
        Color(0, 0, 128), Color(210, 245, 60), Color(128, 0, 0), Color(128, 128, 0),
    ]

    /// How shapes and labels are drawn.
    public struct Style: Sendable, Equatable {
        /// Outline width in pixels (clamped to 1…64); nil: 2 when the image's shorter side is under 512 pixels,
        /// else 3.
        public var lineWidth: Int?
        /// Font scale (clamped to 1…16); nil: `1 + shorter side / 600`, at most 4.
        public var fontScale: Int?
        /// Whether labelled shapes get their label tag.
        public var drawLabels: Bool

        public init(lineWidth: Int? = nil, fontScale: Int? = nil, drawLabels: Bool = true) {
            self.lineWidth = lineWidth
            self.fontScale = fontScale
            self.drawLabels = drawLabels
        }
    }

    /// The colour of each box: boxes with the same label (nil included) share a colour; labels take palette
    /// entries in order of first appearance.
    public static func colors(for boxes: [GroundingBox]) -> [Color] {
        var index: [String?: Int] = [:]
        return boxes.map { box in
            let i = index[box.label] ?? index.count
            index[box.label] = i
            return palette[i % palette.count]
        }
    }

    /// The outline's outer pixel edges of a box: `left`/`right` columns, `top`/`bottom` rows (inclusive).
    /// Nil when the box has fewer than two points with two coordinates each.
    public static func pixelEdges(of box: GroundingBox, width: Int, height: Int)
        -> (left: Int, top: Int, right: Int, bottom: Int)? {
        let corners = pixelCorners(of: box, width: width, height: height)
        guard corners.count >= 2 else { return nil }
        let xs = corners.map(\.x), ys = corners.map(\.y)
        return (xs.min() ?? 0, ys.min() ?? 0, xs.max() ?? 0, ys.max() ?? 0)
    }

    /// The box's usable points as pixel indices of a width×height image (its coordinate space mapped by
    /// ``GroundingBox/pixelPoints(imageWidth:imageHeight:)``, rounded, clamped to the image).
    static func pixelCorners(of box: GroundingBox, width: Int, height: Int) -> [(x: Int, y: Int)] {
        func clamp(_ v: Double, _ size: Int) -> Int { Int(min(max(v.rounded(), 0), Double(max(0, size - 1)))) }
        let usable = GroundingBox(label: box.label, kind: box.kind, points: box.points.filter { $0.count >= 2 }, space: box.space)
        return usable.pixelPoints(imageWidth: width, imageHeight: height).map { (clamp($0[0], width), clamp($0[1], height)) }
    }

    /// Pixel index of normalized coordinate `value` along an axis of `size` pixels: `round(value/1000·size)`
    /// clamped to 0…size−1.
    public static func pixel(_ value: Int, size: Int) -> Int {
        let scaled = (Double(value) / 1000 * Double(size)).rounded()
        return Int(min(max(scaled, 0), Double(max(0, size - 1))))
    }

    /// Returns a copy of `image` with every shape outlined and labelled. Boxes without two usable points
    /// are skipped.
    public static func draw(boxes: [GroundingBox], on image: RGBImage, style: Style = Style()) -> RGBImage {
        var canvas = image
        let shortSide = min(image.width, image.height)
        let line = min(max(style.lineWidth ?? (shortSide < 512 ? 2 : 3), 1), 64)
        let scale = min(max(style.fontScale ?? min(1 + shortSide / 600, 4), 1), 16)
        let colors = colors(for: boxes)
        var tags: [(text: String, left: Int, top: Int, bottom: Int, color: Color)] = []
        for (box, color) in zip(boxes, colors) {
            let corners = pixelCorners(of: box, width: image.width, height: image.height)
            guard corners.count >= 2,
                  let edges = pixelEdges(of: box, width: image.width, height: image.height) else { continue }
            if box.kind == .quad, corners.count >= 3 {
                let points = corners.map { ($0.x, $0.y) }
                for k in points.indices {
                    strokeLine(from: points[k], to: points[(k + 1) % points.count], width: line, color: color, on: &canvas)
                }
            } else {
                strokeRectangle(edges, width: line, color: color, on: &canvas)
            }
            if style.drawLabels, let label = box.label, !label.isEmpty {
                tags.append((label, edges.left, edges.top, edges.bottom, color))
            }
        }
        // Tags go on top of every outline.
        for tag in tags {
            drawTag(tag.text, left: tag.left, top: tag.top, bottom: tag.bottom, line: line, scale: scale,
                    color: tag.color, on: &canvas)
        }
        return canvas
    }

    // MARK: - Primitives

    /// Fills the rectangle of columns `x0..<x1`, rows `y0..<y1`, clipped to the image.
    static func fill(x0: Int, y0: Int, x1: Int, y1: Int, color: Color, on image: inout RGBImage) {
        let left = max(0, x0), right = min(image.width, x1), top = max(0, y0), bottom = min(image.height, y1)
        guard left < right, top < bottom else { return }
        let width = image.width
        image.pixels.withUnsafeMutableBufferPointer { p in
            for y in top..<bottom {
                var i = (y * width + left) * 3
                for _ in left..<right {
                    p[i] = color.r; p[i + 1] = color.g; p[i + 2] = color.b
                    i += 3
                }
            }
        }
    }

    /// Outlines a rectangle whose outer edges are the given inclusive columns and rows, `width` pixels thick
    /// inward.
    static func strokeRectangle(_ e: (left: Int, top: Int, right: Int, bottom: Int), width: Int, color: Color,
                                on image: inout RGBImage) {
        let innerLeft = min(e.left + width, e.right + 1), innerRight = max(e.right + 1 - width, e.left)
        fill(x0: e.left, y0: e.top, x1: e.right + 1, y1: min(e.top + width, e.bottom + 1), color: color, on: &image)
        fill(x0: e.left, y0: max(e.bottom + 1 - width, e.top), x1: e.right + 1, y1: e.bottom + 1, color: color, on: &image)
        fill(x0: e.left, y0: e.top, x1: innerLeft, y1: e.bottom + 1, color: color, on: &image)
        fill(x0: innerRight, y0: e.top, x1: e.right + 1, y1: e.bottom + 1, color: color, on: &image)
    }

    /// Draws a straight line between two pixels (Bresenham), stamping a `width`×`width` square at each step.
    static func strokeLine(from a: (Int, Int), to b: (Int, Int), width: Int, color: Color, on image: inout RGBImage) {
        let before = (width - 1) / 2, after = width - before
        var x = a.0, y = a.1
        let dx = abs(b.0 - a.0), dy = -abs(b.1 - a.1)
        let sx = a.0 < b.0 ? 1 : -1, sy = a.1 < b.1 ? 1 : -1
        var error = dx + dy
        while true {
            fill(x0: x - before, y0: y - before, x1: x + after, y1: y + after, color: color, on: &image)
            if x == b.0 && y == b.1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// Draws `text` in a filled tag of `color` whose bottom sits on the row above `top` (or, with no room
    /// there, just inside the shape below its top outline), starting at column `left`; kept inside the image,
    /// shrinking the font and then shortening the text when the image is too narrow.
    static func drawTag(_ text: String, left: Int, top: Int, bottom: Int, line: Int, scale: Int, color: Color,
                        on image: inout RGBImage) {
        var scale = scale
        var characters = Array(text)
        func size() -> (width: Int, height: Int) {
            (BitmapFont.width(of: String(characters), scale: scale) + 2 * scale,
             BitmapFont.height(scale: scale) + 2 * scale)
        }
        while scale > 1, size().width > image.width || size().height > image.height { scale -= 1 }
        while characters.count > 1, size().width > image.width { characters.removeLast() }
        let (tagWidth, tagHeight) = size()
        let x = max(0, min(left, image.width - tagWidth))
        var y = top - tagHeight
        if y < 0 { y = min(top + line, max(top, bottom + 1 - tagHeight)) }
        y = max(0, min(y, image.height - tagHeight))
        fill(x0: x, y0: y, x1: x + tagWidth, y1: y + tagHeight, color: color, on: &image)
        let luminance = 299 * Int(color.r) + 587 * Int(color.g) + 114 * Int(color.b)
        let ink: (r: UInt8, g: UInt8, b: UInt8) = luminance > 150_000 ? (0, 0, 0) : (255, 255, 255)
        BitmapFont.draw(String(characters), on: &image, x: x + scale, y: y + scale, scale: scale, color: ink)
    }
}

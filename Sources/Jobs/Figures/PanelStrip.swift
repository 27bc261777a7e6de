import Datasets

/// A row of equally tall image panels with a caption above each (the paper's per-image
/// figure: input, ground truth, predictions). Masks (0/1 or 0/255 gray) are drawn white on black.
/// A caption may have several lines ("\n"); each line is drawn at font scale 2, or 1 where a
/// line would be wider than its panel.
public enum PanelStrip {
    /// Height of one caption line (a scale-2 glyph is 14 pixels tall).
    public static let captionLineHeight = 18

    public static func compose(_ panels: [(caption: String, image: Image)], height: Int = 256, gap: Int = 6) -> Image {
        precondition(!panels.isEmpty && height > 0)
        let widths = panels.map { max(1, $0.image.width * height / max(1, $0.image.height)) }
        let lines = panels.map { $0.caption.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        let captionH = captionLineHeight * (lines.map(\.count).max() ?? 1)
        let total = widths.reduce(0, +) + gap * (panels.count + 1)
        var c = Canvas(width: total, height: height + captionH + 2 * gap)
        var x = gap
        for (i, p) in panels.enumerated() {
            let scale = lines[i].allSatisfy { BitmapFont.textWidth($0, scale: 2) <= widths[i] } ? 2 : 1
            for (l, line) in lines[i].enumerated() { c.text(line, x: x, y: gap + l * captionLineHeight, scale: scale) }
            c.blit(displayable(p.image), x: x, y: gap + captionH, width: widths[i], height: height)
            x += widths[i] + gap
        }
        return c.image
    }

    /// Images one below the other, left-aligned on white (rows of panels into one figure).
    public static func stack(_ rows: [Image]) -> Image {
        precondition(!rows.isEmpty)
        var c = Canvas(width: rows.map(\.width).max()!, height: rows.map(\.height).reduce(0, +))
        var y = 0
        for r in rows {
            c.blit(r, x: 0, y: y, width: r.width, height: r.height)
            y += r.height
        }
        return c.image
    }

    /// A 0/1 mask image becomes 0/255 so it is visible; other images are unchanged.
    static func displayable(_ image: Image) -> Image {
        guard image.channels == 1, image.pixels.allSatisfy({ $0 <= 1 }) else { return image }
        return Image(width: image.width, height: image.height, channels: 1, pixels: image.pixels.map { $0 == 0 ? 0 : 255 })
    }
}

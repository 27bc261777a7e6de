import Datasets

/// A row of equally tall image panels with a caption above each (the paper's per-image
/// figure: input, ground truth, predictions). Masks (0/1 or 0/255 gray) are drawn white on black.
public enum PanelStrip {
    public static func compose(_ panels: [(caption: String, image: Image)], height: Int = 256, gap: Int = 6) -> Image {
        precondition(!panels.isEmpty && height > 0)
        let widths = panels.map { max(1, $0.image.width * height / max(1, $0.image.height)) }
        let captionH = 18
        let total = widths.reduce(0, +) + gap * (panels.count + 1)
        var c = Canvas(width: total, height: height + captionH + 2 * gap)
        var x = gap
        for (i, p) in panels.enumerated() {
            c.text(p.caption, x: x, y: gap, scale: 2)
            c.blit(displayable(p.image), x: x, y: gap + captionH, width: widths[i], height: height)
            x += widths[i] + gap
        }
        return c.image
    }

    /// A 0/1 mask image becomes 0/255 so it is visible; other images are unchanged.
    static func displayable(_ image: Image) -> Image {
        guard image.channels == 1, image.pixels.allSatisfy({ $0 <= 1 }) else { return image }
        return Image(width: image.width, height: image.height, channels: 1, pixels: image.pixels.map { $0 == 0 ? 0 : 255 })
    }
}

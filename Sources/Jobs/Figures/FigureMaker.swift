import Datasets
import Foundation
import Network
import Training

/// The per-image figure, one PNG per image: a row of panels and, below it, an overlay.
///
/// - (a) the input, (b) the ground truth, (c) Mz (g's mask, AutoSAM's prediction).
/// - (d) and (e): SAM given a prompt made from Mz, and from the ground truth.
///   - SAM ViT-B/L/H (the paper's figures): mask prompts, "(D) SAM(MZ AS MASK)" / "(E) SAM(GT AS
///     MASK)": Mz's low-res logits, and the ground truth in the low-res frame (the mask resized to
///     256² as for the loss, zero-padded) as logits ±`groundTruthLogit`, through SAM's own mask
///     prompt encoder with an empty sparse prompt (SAM's `mask_input` path).
///   - LiteMedSAM: box prompts, "(D) SAM(BOX OF MZ)" / "(E) SAM(BOX OF GT)". MedSAM was trained
///     with box prompts only, and for a mask-only prompt its decoder returns logits below −13
///     everywhere (checked with PyTorch for prompts of ±1 … ±20), so mask-prompted panels were
///     always empty. (d)'s box is the bounding box of Mz's largest 8-connected component at the
///     original resolution, unpadded (`SelfPrompt.promptBox`, padding 0; no box and an empty
///     panel when Mz is empty); (e)'s is the whole ground-truth mask's bounding box
///     (`BoxPrompt.bounding`, as `eval --box-baseline` prompts SAM). The box is drawn on the
///     panel in orange.
/// - (f), with self-prompting on: the self-prompted mask with its box drawn on it (green: the box
///   pass was used; red: refused, so the mask is Mz).
/// - (g), the row below, twice as tall: the input with the outlines of the final prediction
///   (self-prompted when on, else Mz) in yellow and of the ground truth in blue (drawn last, so
///   on top where they meet); its caption names the colours.
///
/// Every mask panel's caption carries that mask's Dice against the ground truth at the original
/// resolution (`Metrics.dice`), e.g. "(C) MZ" over "DICE 84.1%".
public struct FigureMaker {
    public let predictor: AutoSAMPredictor
    /// Logit magnitude for the ground-truth mask prompt: +10 inside, −10 outside (sigmoid
    /// 0.99995 / 0.00005), a confident mask of the size SAM's own low-res logits reach.
    public var groundTruthLogit: Float = 10

    public init(model: AutoSAM, selfPrompt: SelfPrompt? = nil) { predictor = AutoSAMPredictor(model: model, selfPrompt: selfPrompt) }

    /// The prompt panels (d) and (e) give SAM.
    public enum PromptKind: Sendable { case mask, box }

    /// Outline colours of the overlay (g): the prediction, and the ground truth.
    public static let predictionColor: Canvas.Color = (255, 221, 0), groundTruthColor: Canvas.Color = (30, 144, 255)
    /// Colour of the prompt boxes drawn on (d) and (e).
    public static let promptBoxColor: Canvas.Color = (255, 140, 0)

    public struct Panels {
        public var image: Image
        public var groundTruth: Mask
        public var mz: Mask
        public var samWithMz: Mask
        public var samWithGroundTruth: Mask
        /// What (d) and (e) gave SAM: mask prompts (SAM ViT) or box prompts (LiteMedSAM).
        public var prompt: PromptKind = .mask
        /// The box prompts of (d) and (e) in original pixels (nil with mask prompts, or for an empty mask).
        public var mzBox: BoxPrompt? = nil
        public var groundTruthBox: BoxPrompt? = nil
        /// The self-prompted mask and what self-prompting did (nil when it is off).
        public var selfPrompted: Mask? = nil
        public var selfPrompt: SelfPrompt.Outcome? = nil

        /// The final prediction: self-prompted when that is on, else Mz.
        public var prediction: Mask { selfPrompted ?? mz }
        public var predictionName: String { selfPrompted == nil ? "MZ" : "SELF-PROMPTED" }

        /// Dice against the ground truth at the original resolution.
        public func dice(_ m: Mask) -> Double { Metrics.dice(m, groundTruth) }

        /// "DICE 84.1%".
        static func diceLine(_ d: Double) -> String { "DICE " + String(format: "%.1f", d * 100) + "%" }

        /// The top row: (a)–(e), and (f) with self-prompting.
        public var row: [(caption: String, image: Image)] {
            func masked(_ name: String, _ m: Mask, _ image: Image? = nil) -> (caption: String, image: Image) {
                (name + "\n" + Self.diceLine(dice(m)), image ?? m.image255)
            }
            let d = prompt == .box ? "(D) SAM(BOX OF MZ)" : "(D) SAM(MZ AS MASK)"
            let e = prompt == .box ? "(E) SAM(BOX OF GT)" : "(E) SAM(GT AS MASK)"
            var panels: [(caption: String, image: Image)] = [
                ("(A) INPUT", image), ("(B) GT", groundTruth.image255), masked("(C) MZ", mz),
                masked(d, samWithMz, mzBox.map { FigureMaker.withBox(samWithMz, $0) }),
                masked(e, samWithGroundTruth, groundTruthBox.map { FigureMaker.withBox(samWithGroundTruth, $0) }),
            ]
            if let m = selfPrompted, let o = selfPrompt { panels.append(masked("(F) SELF-PROMPT", m, FigureMaker.outlined(m, outcome: o))) }
            return panels
        }

        /// The overlay panel (g): the input with the prediction's outline (yellow) and the ground truth's (blue).
        public var overlay: (caption: String, image: Image) {
            ("(G) YELLOW: " + predictionName + ", BLUE: GT\n" + Self.diceLine(dice(prediction)),
             FigureMaker.overlay(image, prediction: prediction, groundTruth: groundTruth))
        }

        /// The figure: the row of panels, and the overlay below it at twice their height.
        public var strip: Image {
            PanelStrip.stack([PanelStrip.compose(row), PanelStrip.compose([overlay], height: 512)])
        }
    }

    /// A mask as RGB with self-prompting's box drawn on it: green when the box pass was used, red when refused.
    static func outlined(_ mask: Mask, outcome: SelfPrompt.Outcome) -> Image {
        guard let b = outcome.box else { return maskCanvas(mask).image }
        // Low-res grid pixels → original pixels: the grid spans max(H, W) of the original.
        let s = Double(max(mask.width, mask.height)) / Double(outcome.generatorLogits.shape[3])
        let box = BoxPrompt(x0: Double(b.x0) * s, y0: Double(b.y0) * s, x1: Double(b.x1 + 1) * s - 1, y1: Double(b.y1 + 1) * s - 1)
        return withBox(mask, box, color: outcome.usedBox ? (40, 200, 60) : (220, 40, 40))
    }

    static func maskCanvas(_ mask: Mask) -> Canvas {
        var c = Canvas(width: mask.width, height: mask.height)
        for (i, v) in mask.pixels.enumerated() { c.set(i % mask.width, i / mask.width, v != 0 ? Canvas.white : Canvas.black) }
        return c
    }

    /// A mask as RGB with a box (original pixels) drawn on it.
    static func withBox(_ mask: Mask, _ b: BoxPrompt, color: Canvas.Color = FigureMaker.promptBoxColor) -> Image {
        var c = maskCanvas(mask)
        let t = max(1, max(mask.width, mask.height) / 150)
        for (a, b2, c2, d) in [(b.x0, b.y0, b.x1, b.y0), (b.x1, b.y0, b.x1, b.y1), (b.x1, b.y1, b.x0, b.y1), (b.x0, b.y1, b.x0, b.y0)] {
            c.line(a, b2, c2, d, color: color, thickness: t)
        }
        return c.image
    }

    /// Width in pixels of the overlay's outlines for a width × height image: about 1/300 of the
    /// longer side, so they stay visible when the image is drawn 512 pixels tall.
    public static func outlineWidth(width: Int, height: Int) -> Int { max(1, max(width, height) / 300) }

    /// The inner boundary of a mask, `thickness` pixels wide: its pixels with a background pixel
    /// of the image within `thickness` pixels (Chebyshev distance; beyond the image counts as
    /// foreground, so a mask touching the border is not outlined along it).
    public static func boundary(_ m: Mask, thickness: Int) -> [Bool] {
        let w = m.width, h = m.height, r = thickness
        // Erosion by a (2r+1)² square, separably: a row pass, then a column pass.
        var rows = [Bool](repeating: false, count: w * h), eroded = rows
        for y in 0..<h { for x in 0..<w {
            var all = true
            for xx in max(0, x - r)...min(w - 1, x + r) where m.pixels[y * w + xx] == 0 { all = false; break }
            rows[y * w + x] = all
        } }
        for y in 0..<h { for x in 0..<w {
            var all = true
            for yy in max(0, y - r)...min(h - 1, y + r) where !rows[yy * w + x] { all = false; break }
            eroded[y * w + x] = all
        } }
        return m.pixels.indices.map { m.pixels[$0] != 0 && !eroded[$0] }
    }

    /// The input (gray or RGB) as RGB with the prediction's outline in `predictionColor` and the
    /// ground truth's on top in `groundTruthColor`, at the original resolution.
    public static func overlay(_ image: Image, prediction: Mask, groundTruth: Mask) -> Image {
        precondition(prediction.width == image.width && prediction.height == image.height
                     && groundTruth.width == image.width && groundTruth.height == image.height, "overlay: sizes differ")
        var c = Canvas(width: image.width, height: image.height)
        c.blit(image, x: 0, y: 0, width: image.width, height: image.height)
        let t = outlineWidth(width: image.width, height: image.height)
        for (mask, color) in [(prediction, predictionColor), (groundTruth, groundTruthColor)] {
            for (i, on) in boundary(mask, thickness: t).enumerated() where on { c.set(i % image.width, i / image.width, color) }
        }
        return c.image
    }

    /// SAM's mask for a mask prompt (low-res logits [1, 1, 256, 256]) and/or a box (original pixels) at the original size.
    func samMask(_ e: SAMPredictor.Encoded, prompt: Tensor? = nil, box: BoxPrompt? = nil) throws -> Mask {
        let sam = predictor.sam
        let logits = sam.originalLogits(try sam.lowResLogits(e, box: box, maskPrompt: prompt), extent: e.extent)
        return SAMPredictor.threshold(logits, width: e.extent.originalWidth, height: e.extent.originalHeight)
    }

    /// The box prompt of (d) with LiteMedSAM: the bounding box of Mz's largest 8-connected
    /// component at the original resolution, unpadded, or nil for an empty Mz.
    public static func mzBox(_ mz: Mask) -> BoxPrompt? {
        SelfPrompt.promptBox(mask: mz.pixels, width: mz.width, height: mz.height, padding: 0).map {
            BoxPrompt(x0: Double($0.x0), y0: Double($0.y0), x1: Double($0.x1), y1: Double($0.y1))
        }
    }

    public func panels(image: Image, groundTruth: Mask) throws -> Panels {
        let p = try predictor.predict(image)
        let empty = Mask(width: image.width, height: image.height, pixels: [UInt8](repeating: 0, count: image.width * image.height))
        var out = Panels(image: image, groundTruth: groundTruth, mz: p.generatorMask, samWithMz: empty, samWithGroundTruth: empty,
                         selfPrompted: p.selfPrompt == nil ? nil : p.mask, selfPrompt: p.selfPrompt)
        if predictor.model.sam.kind == .liteMedSAM {
            // LiteMedSAM answers box prompts only (see above).
            out.prompt = .box
            out.mzBox = Self.mzBox(p.generatorMask)
            out.groundTruthBox = BoxPrompt.bounding(width: groundTruth.width, height: groundTruth.height, pixels: groundTruth.pixels)
            if let b = out.mzBox { out.samWithMz = try samMask(p.encoded, box: b) }
            if let b = out.groundTruthBox { out.samWithGroundTruth = try samMask(p.encoded, box: b) }
        } else {
            let lowRes = predictor.model.sam.embeddingSize * 4
            let gt = Preprocessing.mask(groundTruth, side: lowRes).pixels.map { $0 != 0 ? groundTruthLogit : -groundTruthLogit }
            out.prompt = .mask
            out.samWithMz = try samMask(p.encoded, prompt: p.lowResLogits)
            out.samWithGroundTruth = try samMask(p.encoded, prompt: Tensor(shape: [1, 1, lowRes, lowRes], data: gt))
        }
        return out
    }

    /// Panels for `count` test images spread evenly over the samples; one PNG figure each in `dir`
    /// (panels_<image>.png: the row of panels and the overlay below it).
    /// With `surrogate`, each image also gets the paper's h row: I, h(g(I)), Mz, ground truth.
    @discardableResult
    public func write(samples: [DatasetSample], count: Int, to dir: String, surrogate: SurrogateModel? = nil,
                      log: (String) -> Void = { _ in }) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let n = min(count, samples.count)
        let picks = (0..<n).map { $0 * samples.count / max(n, 1) }
        var written: [String] = []
        if predictor.model.sam.kind == .liteMedSAM {
            log("note: LiteMedSAM ignores mask-only prompts (trained with boxes only), so panels (d) and (e) prompt it with "
                + "boxes: Mz's largest component's, and the ground truth's; a SAM ViT model gets the paper's mask prompts")
        }
        for i in picks {
            let s = samples[i]
            let image = try ImageDecoder.read(s.imagePath, channels: 3)
            let gt = try MaskLoader.binary(s.maskPath, rule: s.maskRule, imageWidth: image.width, imageHeight: image.height)
            let p = try panels(image: image, groundTruth: gt)
            let base = ((s.name as NSString).deletingPathExtension as NSString).lastPathComponent
            let out = (dir as NSString).appendingPathComponent("panels_\(base).png")
            try PNGCodec.write(p.strip, to: out)
            if let h = surrogate {
                var hMask = Mask(width: gt.width, height: gt.height, pixels: [UInt8](repeating: 0, count: gt.pixels.count))
                _ = try SurrogateEvaluator(model: h, batchSize: 1).evaluate([s]) { _, m in hMask = m }
                let row = PanelStrip.compose([("INPUT", image), ("H(G(I))", hMask.image255), ("MZ", p.mz.image255), ("GT", gt.image255)])
                let hOut = (dir as NSString).appendingPathComponent("hrow_\(base).png")
                try PNGCodec.write(row, to: hOut)
                log("\(s.imagePath) → \(hOut): Dice h(g(I)) \(fmt(Metrics.dice(hMask, gt)))")
                written.append(hOut)
            }
            let how = p.prompt == .box ? "box of " : ""
            log("\(s.imagePath) → \(out): Dice Mz \(fmt(Metrics.dice(p.mz, gt))), SAM(\(how)Mz) \(fmt(Metrics.dice(p.samWithMz, gt))), "
                + "SAM(\(how)GT) \(fmt(Metrics.dice(p.samWithGroundTruth, gt)))"
                + (p.selfPrompted.map { ", self-prompted \(fmt(Metrics.dice($0, gt)))" } ?? "")
                + (p.selfPrompt.map { " (" + PredictJobs.describe($0) + ")" } ?? ""))
            written.append(out)
        }
        return written
    }
}

/// The training curve from a run's metrics.jsonl: loss per epoch, and train/validation Dice.
public enum TrainingCurve {
    public static func readMetrics(_ path: String) throws -> [[String: Double]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw FileError(path: path, problem: "cannot read the metrics log")
        }
        var rows: [[String: Double]] = []
        for (i, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw FileError(path: path, problem: "line \(i + 1) is not a JSON object")
            }
            rows.append(obj.compactMapValues { ($0 as? NSNumber)?.doubleValue })
        }
        guard rows.contains(where: { $0["epoch"] != nil }) else { throw FileError(path: path, problem: "no epoch rows in the metrics log") }
        return rows
    }

    public static func render(_ rows: [[String: Double]], width: Int = 900, height: Int = 340) -> Image {
        func series(_ key: String, _ name: String, _ color: Canvas.Color) -> LinePlot.Series {
            LinePlot.Series(name: name, color: color, points: rows.compactMap { r in
                guard let e = r["epoch"], let v = r[key] else { return nil }
                return (e, v)
            })
        }
        var c = Canvas(width: width, height: height)
        let loss = LinePlot(title: "LOSS", xLabel: "EPOCH", series: [series("train_loss", "TRAIN", (200, 60, 40))])
        let dice = LinePlot(title: "DICE", xLabel: "EPOCH",
                            series: [series("train_dice", "TRAIN", (200, 60, 40)), series("val_dice", "VAL", (40, 90, 200))],
                            yRange: 0...1)
        loss.draw(on: &c, x: 0, y: 0, width: width / 2, height: height)
        dice.draw(on: &c, x: width / 2, y: 0, width: width - width / 2, height: height)
        return c.image
    }
}

import Datasets
import Foundation
import Network
import Training

/// The paper's per-image panels: (a) input, (b) ground truth, (c) Mz (AutoSAM's mask),
/// (d) SAM with Mz's low-res logits as its mask prompt, (e) SAM with the ground truth as its
/// mask prompt. Mask prompts go through SAM's own mask prompt encoder with an empty sparse
/// prompt (SAM's `mask_input` path). The ground truth is given in the low-res frame (the mask
/// resized to 256² as for the loss, zero-padded) as logits ±`groundTruthLogit`.
///
/// On the embedded LiteMedSAM panels (d) and (e) come out empty, exactly as in PyTorch:
/// MedSAM was trained with box prompts only, and for a mask-only prompt its decoder returns
/// logits below −13 everywhere (checked with PyTorch for prompts of ±1 … ±20). SAM ViT-B/L/H
/// (the paper's figures) do respond to mask prompts.
public struct FigureMaker {
    public let predictor: AutoSAMPredictor
    /// Logit magnitude for the ground-truth mask prompt: +10 inside, −10 outside (sigmoid
    /// 0.99995 / 0.00005), a confident mask of the size SAM's own low-res logits reach.
    public var groundTruthLogit: Float = 10

    public init(model: AutoSAM) { predictor = AutoSAMPredictor(model: model) }

    public struct Panels {
        public var image: Image
        public var groundTruth: Mask
        public var mz: Mask
        public var samWithMz: Mask
        public var samWithGroundTruth: Mask

        public var strip: Image {
            PanelStrip.compose([("(A) INPUT", image), ("(B) GT", groundTruth.image255), ("(C) MZ", mz.image255),
                                ("(D) SAM(MZ)", samWithMz.image255), ("(E) SAM(GT)", samWithGroundTruth.image255)])
        }
    }

    /// SAM's mask for a mask prompt (low-res logits [1, 1, 256, 256]) at the original size.
    func samMask(_ e: SAMPredictor.Encoded, prompt: Tensor) throws -> Mask {
        let sam = predictor.sam
        let logits = sam.originalLogits(try sam.lowResLogits(e, maskPrompt: prompt), extent: e.extent)
        return SAMPredictor.threshold(logits, width: e.extent.originalWidth, height: e.extent.originalHeight)
    }

    public func panels(image: Image, groundTruth: Mask) throws -> Panels {
        let p = try predictor.predict(image)
        let lowRes = predictor.model.sam.embeddingSize * 4
        let gt = Preprocessing.mask(groundTruth, side: lowRes).pixels.map { $0 != 0 ? groundTruthLogit : -groundTruthLogit }
        let gtPrompt = Tensor(shape: [1, 1, lowRes, lowRes], data: gt)
        return Panels(image: image, groundTruth: groundTruth, mz: p.mask,
                      samWithMz: try samMask(p.encoded, prompt: p.lowResLogits),
                      samWithGroundTruth: try samMask(p.encoded, prompt: gtPrompt))
    }

    /// Panels for `count` test images spread evenly over the samples; one PNG strip each in `dir`.
    @discardableResult
    /// With `surrogate`, each image also gets the paper's h row: I, h(g(I)), Mz, ground truth.
    public func write(samples: [DatasetSample], count: Int, to dir: String, surrogate: SurrogateModel? = nil,
                      log: (String) -> Void = { _ in }) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let n = min(count, samples.count)
        let picks = (0..<n).map { $0 * samples.count / max(n, 1) }
        var written: [String] = []
        if predictor.model.sam.kind == .liteMedSAM {
            log("note: LiteMedSAM ignores mask-only prompts (trained with boxes only), so panels (d) and (e) are empty; "
                + "use a SAM ViT model for the paper's (d)/(e)")
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
            log("\(s.imagePath) → \(out): Dice Mz \(fmt(Metrics.dice(p.mz, gt))), SAM(Mz) \(fmt(Metrics.dice(p.samWithMz, gt))), "
                + "SAM(GT) \(fmt(Metrics.dice(p.samWithGroundTruth, gt)))")
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

import Datasets
import Foundation
import Network

/// The work behind `autosam-dist predict`, callable in-process (the tests use it).
public enum PredictJobs {
    /// The SAM checkpoint to use: the given path, or the embedded default for LiteMedSAM.
    public static func samCheckpoint(_ path: String?, kind: SAMKind) throws -> String {
        if let p = path {
            guard FileManager.default.fileExists(atPath: p) else { throw InferenceError("\(p): SAM checkpoint not found") }
            return p
        }
        guard kind == .liteMedSAM else {
            throw InferenceError("--sam \(kind.rawValue) needs --sam-checkpoint (the official SAM .pth; only LiteMedSAM is embedded)")
        }
        let p = "weights/lite_medsam.pth"
        guard FileManager.default.fileExists(atPath: p) else {
            throw InferenceError("\(p): embedded LiteMedSAM weights not found (run Launch/fetch-weights.sh, or pass --sam-checkpoint)")
        }
        return p
    }

    /// Reads an image, naming the file in any error.
    public static func readImage(_ path: String) throws -> Image {
        guard FileManager.default.fileExists(atPath: path) else { throw InferenceError("\(path): image not found") }
        do { return try ImageDecoder.read(path, channels: 3) } catch let e as ImageError {
            throw InferenceError(e.description)
        }
    }

    /// SAM with a box prompt on one image; writes the 0/255 mask PNG at the image's size.
    @discardableResult
    public static func box(image path: String, box: BoxPrompt, sam: SAM, output: String) throws -> Mask {
        let image = try readImage(path)
        let mask = try SAMPredictor(sam: sam).segment(image, box: box)
        try writeMask(mask, to: output)
        return mask
    }

    /// AutoSAM on each image; one `<name>.png` per image in `outputDir`. Returns the files written.
    /// With `selfPrompt`, each mask is the self-prompted one (g's where the box pass is refused).
    @discardableResult
    public static func autoSAM(images: [String], model: AutoSAM, outputDir: String, selfPrompt: SelfPrompt? = nil,
                               log: (String) -> Void = { _ in }) throws -> [String] {
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        let predictor = AutoSAMPredictor(model: model, selfPrompt: selfPrompt)
        var written: [String] = []
        var seen: [String: String] = [:]
        for path in images {
            let out = ImageInputs.outputName(for: path, in: outputDir)
            if let other = seen[out] { throw InferenceError("\(path) and \(other) would both be written to \(out)") }
            seen[out] = path
            let p = try predictor.predict(try readImage(path))
            try writeMask(p.mask, to: out)
            log("\(path) → \(out) (\(p.mask.foregroundCount) foreground pixels" + (p.selfPrompt.map { "; " + describe($0) } ?? "") + ")")
            written.append(out)
        }
        return written
    }

    /// What self-prompting decided for one image, with SAM's IoU predictions.
    public static func describe(_ o: SelfPrompt.Outcome) -> String {
        let g = String(format: "%.3f", o.generatorIoU)
        guard let box = o.box, let b = o.boxIoU else { return "self-prompt: g's mask is empty, kept" }
        return "self-prompt: box \(box) (256² frame) " + (o.usedBox ? "used" : "refused")
            + ", SAM's predicted IoU " + String(format: "%.3f", b) + " for the box pass vs \(g) for g's"
    }

    public static func writeMask(_ mask: Mask, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try PNGCodec.write(mask.image255, to: path)
    }
}

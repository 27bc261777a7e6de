import Datasets
import Network

/// Helpers for h checkpoints. They reuse `TrainingCheckpoint`'s file format (magic, JSON
/// header, float32 blobs, content hash; written atomically) with:
///   backbone "surrogate_h"; sam: the SAM kind of g's config; epoch 0; step: Adam steps
///   taken; parameters: h's (`conv1.weight` … `conv3.bias`, ModelH's names); buffers: none;
///   adam: h's optimiser state; bestValidationDice: h(g(I))'s validation Dice at the end;
///   configYAML: g's config (with train-h's data override); history: one row per
///   iteration (`iteration`, `loss`, `bce`, `dice_loss`) and a final row with `val_dice`,
///   `val_iou`; generator: the g checkpoint's path and a hash of its weights.
public enum SurrogateCheckpoint {
    public static let backbone = "surrogate_h"

    /// h with the parameters of checkpoint `ck` (read from `path`), on `context`.
    public static func decoder(_ ck: TrainingCheckpoint, path: String, context: ExecutionContext) throws -> SurrogateDecoder {
        var rng = SeededRNG(seed: 0)
        let h = SurrogateDecoder(context: context, rng: &rng)
        guard ck.header.parameters.map(\.name) == h.store.parameters.map(\.name),
              ck.header.parameters.map(\.shape) == h.store.parameters.map(\.shape) else {
            throw FileError(path: path, problem: "parameters do not match the surrogate decoder h")
        }
        h.store.setFlatValues(ck.parameters)
        return h
    }

    /// A hash of g's parameters and running statistics (what decides its output in eval mode).
    public static func hash(_ g: PromptGenerator) -> String {
        var h = ContentHash()
        g.store.values.withUnsafeBytes { h.update($0) }
        for (_, v) in g.buffers.named { v.withUnsafeBytes { h.update($0) } }
        return h.hex
    }
}

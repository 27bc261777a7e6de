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

    /// A hash of g's parameters and running statistics (what decides its output in eval mode).
    public static func hash(_ g: PromptGenerator) -> String {
        var h = ContentHash()
        g.store.values.withUnsafeBytes { h.update($0) }
        for (_, v) in g.buffers.named { v.withUnsafeBytes { h.update($0) } }
        return h.hex
    }
}

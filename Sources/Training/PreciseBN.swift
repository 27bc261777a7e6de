import Datasets
import Network

/// PreciseBN: g's BatchNorm running statistics recomputed as the plain average of train-mode
/// batch statistics over chosen training images, with the weights as they are now. In a short
/// run the exponential average (momentum 0.1) trails weights that still move fast, and
/// evaluation normalises with it (`train.precise_bn_images`, `eval --precise-bn`).
public enum PreciseBN {
    /// The first `count` training images of an order seeded by `seed`: the same on every rank.
    public static func images(_ train: [DatasetSample], count: Int, seed: UInt64) -> [DatasetSample] {
        var idx = Array(train.indices)
        var rng = SeededRNG(seed: seed ^ 0x5052_4543_4953_4542)
        idx.shuffle(using: &rng)
        return idx.prefix(max(0, min(count, train.count))).map { train[$0] }
    }

    /// Recomputes `generator`'s statistics over `samples` as they are (no augmentation, like
    /// validation images), `batchSize` images per batch.
    public static func recompute(_ generator: PromptGenerator, pipeline: SamplePipeline, samples: [DatasetSample],
                                 batchSize: Int) throws {
        let b = max(batchSize, 1)
        try generator.recomputeRunningStats(batches: (samples.count + b - 1) / b) { i in
            let picked = Array(samples[(i * b)..<min((i + 1) * b, samples.count)])
            guard generator.readsEmbedding else {
                return (try pipeline.generatorImages(picked, augmentations: picked.map { _ in .identity }), nil)
            }
            let b = pipeline.batch(try picked.map { try pipeline.prepare($0, augmentation: .identity) })
            return (b.images, b.embeddings)
        }
    }
}

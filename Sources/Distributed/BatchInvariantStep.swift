import Network
import Training

/// One rank's share of a global batch in the batch-invariant mode (`distributed.deterministic`):
/// g keeps each sample's gradient apart, SyncBatchNorm and the loss sums keep the batch's sample
/// order, the decoder runs sample by sample, and the gradients are summed exactly. Every
/// sample is computed the same way whichever rank holds it, so the summed gradient, the
/// statistics and the losses are the same bits on any number of ranks. Shared by the trainer
/// and `verify`'s single-process reference.
public enum BatchInvariantStep {
    public struct Inputs {
        public var images: Tensor, embeddings: Tensor, targets: Tensor
        public init(images: Tensor, embeddings: Tensor, targets: Tensor) {
            self.images = images; self.embeddings = embeddings; self.targets = targets
        }
    }

    /// `inputs`: this rank's samples `mine` of a global batch of `batch` (nil for an empty
    /// shard, which still joins every collective). Adds the batch's summed gradient to g's
    /// store on every rank; returns this rank's per-sample losses and logits.
    public static func run(model: AutoSAM, reducer: CommunicatorReducer, comm: Communicator, inputs: Inputs?,
                           mine: Range<Int>, batch: Int, trace: (String, () throws -> Void) throws -> Void = { try $1() }
    ) throws -> (losses: [Double], logits: Tensor?) {
        let g = model.generator
        reducer.sampleLayout = (mine, batch)
        defer { reducer.sampleLayout = nil; g.store.keepSamplesApart(0) }
        var losses: [Double] = [], logits: Tensor?
        if let inputs {
            g.store.keepSamplesApart(mine.count)
            var z = Tensor(zeros: [0]), cache: PromptGenerator.Cache?
            try trace("g forward") { (z, cache) = try g.forward(inputs.images, embedding: g.readsEmbedding ? inputs.embeddings : nil, training: true) }
            var dz = Tensor(zeros: [0])
            try trace("decoder + loss (per sample)") {
                let r = try model.decoderStepPerSample(z: z, embeddings: inputs.embeddings, targets: inputs.targets, globalBatch: batch)
                (losses, logits, dz) = (r.losses, r.logits, r.dz)
            }
            try trace("g backward") { try g.backward(dz, cache!) }
        } else {
            // One blank image whose statistics and gradients count for nothing.
            reducer.contributes = false
            defer { reducer.contributes = true }
            g.store.keepSamplesApart(1)
            try trace("empty shard (collectives only)") {
                let blank = g.blankInputs(side: model.generatorSide)
                let (z, gc) = try g.forward(blank.image, embedding: blank.embedding, training: true)
                try g.backward(Tensor(zeros: z.shape), gc)
            }
        }
        try trace("exact gradient sum") {
            try ExactGradientSum.add(g.store, samples: inputs == nil ? 0 : mine.count, globalBatch: batch, comm: comm)
        }
        return (losses, logits)
    }
}

import Foundation
import Network

/// `bench train`'s measurements: images/s of one AutoSAM training step (g forward/backward,
/// frozen mask decoder forward/backward, BCE + soft Dice, Adam) with the encoder run on the
/// batch (cold cache) or skipped (warm cache), g forward+backward alone with its convolution
/// GFLOP/s against an sgemm measured in the same run, and the peak resident memory of each.
/// Synthetic seeded inputs; one row (a JSON-ready dictionary) per measurement.
public enum TrainBenchmark {
    public struct Settings {
        public var backbone: String
        public var batch: Int
        public var size: Int
        public var threads: Int
        public var repeats: Int

        public init(backbone: String = "hardnet85", batch: Int = 10, size: Int = 256, threads: Int, repeats: Int = 3) {
            self.backbone = backbone
            self.batch = batch
            self.size = size
            self.threads = threads
            self.repeats = repeats
        }
    }

    /// g is built on `sam`'s context with its convolutions counted (only g's, as the GFLOP/s
    /// figure is g's).
    public static func measure(sam: SAM, _ s: Settings) throws -> [[String: Any]] {
        guard let variant = GeneratorBackbone.named(s.backbone) else { preconditionFailure("unknown backbone \(s.backbone)") }
        var rng = SeededRNG(seed: 5)
        let counter = FLOPCountingConvBackend(wrapping: sam.context.convolution)
        let g = PromptGenerator(backbone: variant, context: sam.context.with(convolution: counter), rng: &rng)
        let model = AutoSAM(sam: sam, generator: g)
        var adam = Adam(parameterCount: g.store.count, lr: 3e-4, weightDecay: 1e-5)
        let b = s.batch
        let images = Tensor.uniform([b, 3, s.size, s.size], rng: &rng, lo: 0, hi: 1)
        let targets = Tensor(shape: [b, 1, 256, 256], data: (0..<(b * 65536)).map {
            let y = ($0 % 65536) / 256 - 128, x = $0 % 256 - 128 + ($0 / 65536) * 7
            return Float(x * x + y * y < 60 * 60 ? 1 : 0)
        })
        var rows: [[String: Any]] = []
        func row(_ name: String, _ seconds: Double, _ extra: [String: Any] = [:]) {
            var r: [String: Any] = ["name": name, "batch": b, "seconds": seconds, "threads": s.threads, "engine": "swift",
                                    "images_per_s": Double(b) / seconds, "peak_rss_mb": BenchClock.peakRSSMB(), "backbone": s.backbone]
            for (k, v) in extra { r[k] = v }
            rows.append(r)
        }
        func adamStep() {
            g.store.withMutableValues { adam.update(&$0, grads: g.store.grads) }
            g.store.zeroGrads()
        }

        // sgemm at 1024³, the rate g's convolutions are compared against.
        let n = 1024
        let a = Tensor.uniform([n, n], rng: &rng, lo: -1, hi: 1), bm = Tensor.uniform([n, n], rng: &rng, lo: -1, hi: 1)
        var c = [Float](repeating: 0, count: n * n)
        let tg = BenchClock.median(repeats: max(3, s.repeats)) { sgemm(m: n, n: n, k: n, a: a.data, b: bm.data, c: &c) }
        let sgemmGFLOPs = 2 * Double(n * n * n) / tg / 1e9

        // g forward + backward; the warm-up pass counts the convolutions' multiply-adds.
        let ones = Tensor(shape: [b, g.embeddingChannels, g.outputSize, g.outputSize], repeating: 1)
        func gPass() throws {
            let (_, cache) = try g.forward(images, training: true)
            try g.backward(ones, cache)
            g.store.zeroGrads()
        }
        BenchClock.resetPeakRSS()
        counter.reset()
        counter.isCounting = true
        try gPass()
        counter.isCounting = false
        let convFLOP = 2 * counter.multiplyAdds
        let tgb = try BenchClock.median(repeats: s.repeats, warmup: false, gPass)
        let convRate = convFLOP / tgb / 1e9
        let workspaceMB = (sam.context.convolution as? OneDNNConvBackend)?.workspaceMB ?? 0
        row("g_forward_backward", tgb, ["conv_gflop": convFLOP / 1e9, "conv_gflops": convRate,
                                        "onednn_workspace_mb": workspaceMB,
                                        "sgemm_gflops": sgemmGFLOPs, "conv_of_sgemm": convRate / sgemmGFLOPs])

        // Warm cache: the embeddings are already computed.
        let embeddings = try sam.imageEncoder(images)
        BenchClock.resetPeakRSS()
        let tw = try BenchClock.median(repeats: s.repeats) {
            _ = try model.trainStep(images: images, embeddings: embeddings, targets: targets, weight: 1)
            adamStep()
        }
        row("train_step_warm", tw)

        // Cold cache: the encoder runs on the batch every step.
        BenchClock.resetPeakRSS()
        let tc = try BenchClock.median(repeats: s.repeats) {
            let e = try sam.imageEncoder(images)
            _ = try model.trainStep(images: images, embeddings: e, targets: targets, weight: 1)
            adamStep()
        }
        row("train_step_cold", tc)
        return rows.sorted { order($0) < order($1) }
    }

    static func order(_ r: [String: Any]) -> Int {
        ["train_step_cold", "train_step_warm", "g_forward_backward"].firstIndex(of: r["name"] as? String ?? "") ?? 9
    }
}

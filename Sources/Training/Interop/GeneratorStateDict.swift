import Network

/// g as the authors' `ModelEmb` state dict, in `state_dict()` order: each module's parameters,
/// then its BatchNorm buffers (`running_mean`, `running_var`, `num_batches_tracked`).
public enum GeneratorStateDict {
    /// `batchesTracked` fills every `num_batches_tracked` (int64 scalar; torch counts
    /// train-mode forward passes).
    public static func entries(parameters: [(name: String, shape: [Int], values: [Float])],
                               buffers: [(name: String, values: [Float])], batchesTracked: Int) -> [StateDictEntry] {
        let byName = Dictionary(buffers.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
        var used = Set<String>()
        var out: [StateDictEntry] = []
        for p in parameters {
            out.append(StateDictEntry(name: p.name, shape: p.shape, values: .float32(p.values)))
            guard p.name.hasSuffix(".bias") else { continue }
            let module = String(p.name.dropLast(5))
            for b in ["running_mean", "running_var"] {
                guard let v = byName[module + "." + b] else { continue }
                out.append(StateDictEntry(name: module + "." + b, shape: [v.count], values: .float32(v)))
                used.insert(module + "." + b)
            }
            if used.contains(module + ".running_var") {
                out.append(StateDictEntry(name: module + ".num_batches_tracked", shape: [], values: .int64([Int64(batchesTracked)])))
            }
        }
        // Buffers of a module without a bias parameter (none in g today) keep their order at the end.
        for b in buffers where !used.contains(b.name) {
            out.append(StateDictEntry(name: b.name, shape: [b.values.count], values: .float32(b.values)))
        }
        return out
    }

    public static func entries(_ g: PromptGenerator, batchesTracked: Int) -> [StateDictEntry] {
        let params = g.store.parameters.map { (name: $0.name, shape: $0.shape, values: g.store.tensor($0).data) }
        return entries(parameters: params, buffers: g.buffers.named, batchesTracked: batchesTracked)
    }

    /// The backbone and input whose g has exactly this file's tensors (names and shapes), if
    /// one does (for `embedding`, the backbone is the default one: it builds none).
    public static func detectVariant(_ source: any StateDictSource, context: ExecutionContext)
        -> (backbone: GeneratorBackbone, input: GeneratorInput)? {
        // The key families narrow the candidates before any g is built (a HarDNet-85 g is 24 M
        // parameters); tensor shapes then tell the rest apart.
        let keys = source.keys
        let head = keys.contains { $0.hasPrefix("embedding_head.") }
        let backbones: [GeneratorBackbone]
        if keys.contains(where: { $0.hasPrefix("backbone.features.") }) { backbones = [.mobileNetV2] }
        else if keys.contains(where: { $0.hasPrefix("backbone.base.") }) { backbones = [.hardnet39DS, .hardnet68, .hardnet85] }
        else { backbones = [] }
        let candidates: [(GeneratorBackbone, GeneratorInput)] = backbones.isEmpty
            ? (head ? [(GeneratorBackbone.named(TrainConfig.Generator().backbone)!, .embedding)] : [])
            : backbones.map { ($0, head ? GeneratorInput.both : .image) }
        for (v, input) in candidates {
            var rng = SeededRNG(seed: 0)
            let g = PromptGenerator(backbone: v, input: input, context: context, rng: &rng)
            let wanted = StateDictTargetShapes.of(g)
            if wanted.allSatisfy({ source.shape($0.name) == $0.shape }) { return (v, input) }
        }
        return nil
    }
}

/// g's tensor names and shapes as a `ModelEmb` state dict (parameters and running statistics).
enum StateDictTargetShapes {
    static func of(_ g: PromptGenerator) -> [(name: String, shape: [Int])] {
        g.store.parameters.map { ($0.name, $0.shape) } + g.buffers.named.map { ($0.name, [$0.values.count]) }
    }
}

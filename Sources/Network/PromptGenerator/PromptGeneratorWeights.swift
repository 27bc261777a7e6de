/// Loading g's tensors (parameters and BatchNorm running statistics) from a PyTorch state dict.
extension PromptGenerator {
    /// What a checkpoint is expected to hold.
    public enum StateDictLayout {
        /// An ImageNet backbone state dict (the HarDNet authors' `hardnet85-….pth` layout, keys
        /// `base.N.…`, or torchvision's MobileNetV2, keys `features.N.…`): fills the backbone
        /// only; the classifier and the stages past stride 16 are ignored; the decoder keeps its
        /// initialisation.
        case imagenetBackbone
        /// A whole AutoSAM `ModelEmb` state dict (`backbone.base.N.…`, `decoder.…`).
        case modelEmb
    }

    /// Fills g from `checkpoint` by name. Keys are taken under `prefix` (stripped). Nothing
    /// is assigned unless every expected tensor is present with the right shape and every
    /// key is either used or deliberately ignored (`num_batches_tracked`, the stages past
    /// stride 16 and the classifier head, the unused
    /// `decoder.final.BN2`); otherwise a `StateDictMismatchError` lists every offending name.
    /// Returns the number of tensors assigned.
    @discardableResult
    public func load(_ checkpoint: any StateDictSource, layout: StateDictLayout, prefix: String = "") throws -> Int {
        var target = StateDictTarget(generator: self, layout: layout)
        let modelPrefix = layout == .imagenetBackbone ? "" : "backbone."
        return try checkpoint.load(into: &target, prefix: prefix) { name in
            if name.hasSuffix(".num_batches_tracked") { return true }
            if layout == .modelEmb && name.hasPrefix("decoder.final.BN2.") { return true }
            guard name.hasPrefix(modelPrefix) else { return false }
            return image?.backbone.ignoresImageNetKey(String(name.dropFirst(modelPrefix.count))) ?? false
        }
    }
}

/// g's parameters and buffers as one state dict (for `.imagenetBackbone`: the backbone's,
/// with the `backbone.` prefix removed).
struct StateDictTarget: StateDictLoadable {
    let generator: PromptGenerator
    let layout: PromptGenerator.StateDictLayout

    private func external(_ name: String) -> String? {
        guard layout == .imagenetBackbone else { return name }
        return name.hasPrefix("backbone.") ? String(name.dropFirst(9)) : nil
    }

    var parameterShapes: [(name: String, shape: [Int])] {
        let params = generator.store.parameters.compactMap { p in external(p.name).map { ($0, p.shape) } }
        let bufs = generator.buffers.named.compactMap { b in external(b.name).map { ($0, [b.values.count]) } }
        return params + bufs
    }

    func assign(name: String, tensor: Tensor) throws {
        let internalName = layout == .imagenetBackbone ? "backbone." + name : name
        if let p = generator.store[internalName] {
            try generator.store.set(p, tensor)
        } else {
            try generator.buffers.set(internalName, tensor.data)
        }
    }
}

import Foundation

/// The config's `inference:` section: how `predict`, `eval` and `figures` turn a trained g into
/// masks. Nothing here changes what training computes, so none of it is part of a checkpoint's
/// `RunIdentity` (a resume never compares these keys).
public struct InferenceConfig: Codable, Equatable, Sendable {
    /// Self-prompting: g's mask → its largest connected component's bounding box → SAM's
    /// mask decoder again with that box as the prompt; g's mask is kept where SAM predicts a
    /// lower IoU for the box pass than for g's own pass.
    public var selfPrompt = false
    /// The box pass's dense prompt: SAM's no-mask embedding (`none`) or g's embedding (`g`).
    public var selfPromptDense: SelfPromptDense = .noMask
    /// Pixels added on every side of the box, in SAM's 256-pixel low-res frame (clamped to the image).
    public var selfPromptPadding = 4

    enum CodingKeys: String, CodingKey, CaseIterable {
        case selfPrompt = "self_prompt", selfPromptDense = "self_prompt_dense", selfPromptPadding = "self_prompt_padding"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        selfPrompt = try c.decodeIfPresent(Bool.self, forKey: .selfPrompt) ?? selfPrompt
        selfPromptDense = try c.decodeIfPresent(SelfPromptDense.self, forKey: .selfPromptDense) ?? selfPromptDense
        selfPromptPadding = try c.decodeIfPresent(Int.self, forKey: .selfPromptPadding) ?? selfPromptPadding
    }

    /// The problem with these values, or nil (TrainConfig.check reports it with the file).
    public var problem: String? {
        if !(0...256).contains(selfPromptPadding) {
            return "inference.self_prompt_padding must be from 0 to 256 (pixels in SAM's 256-pixel frame), got \(selfPromptPadding)"
        }
        return nil
    }

    /// These settings with a command's flags applied (nil: the config's value stands).
    public func overridden(selfPrompt on: Bool?, dense: SelfPromptDense? = nil, padding: Int? = nil) -> InferenceConfig {
        var c = self
        if let on { c.selfPrompt = on }
        if let dense { c.selfPromptDense = dense }
        if let padding { c.selfPromptPadding = padding }
        return c
    }
}

/// The dense prompt of self-prompting's box pass.
public enum SelfPromptDense: String, Codable, Sendable, CaseIterable {
    /// SAM's learned no-mask embedding: SAM prompted with the box alone, as MedSAM was trained.
    case noMask = "none"
    /// g's dense embedding, beside the box.
    case g
}

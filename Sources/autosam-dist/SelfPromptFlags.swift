import ArgumentParser
import Jobs
import Training

extension SelfPromptDense: ExpressibleByArgument {}

/// `--self-prompt` / `--no-self-prompt` and its settings, shared by predict, eval and figures.
/// Each overrides the checkpoint's `inference:` section; absent, the section's value stands.
struct SelfPromptFlags: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Self-prompting: g's mask's largest component's box, padded, prompts SAM again; g's mask is kept where SAM predicts a lower IoU for the box pass.",
        discussion: "Default: the checkpoint config's inference.self_prompt (false when absent)."))
    var selfPrompt: Bool?

    @Option(help: "The box pass's dense prompt: none (SAM's no-mask embedding) or g (g's embedding). Default: inference.self_prompt_dense.")
    var selfPromptDense: SelfPromptDense?

    @Option(help: "Pixels added on each side of the box, in SAM's 256-pixel frame. Default: inference.self_prompt_padding (4).")
    var selfPromptPadding: Int?

    /// Whether any of the flags was given.
    var given: Bool { selfPrompt != nil || selfPromptDense != nil || selfPromptPadding != nil }

    func validate() throws {
        if let p = selfPromptPadding, !(0...256).contains(p) {
            throw ValidationError("--self-prompt-padding must be from 0 to 256 (pixels in SAM's 256-pixel frame), got \(p)")
        }
    }

    /// The inference settings with these flags applied to `config`'s.
    func settings(_ config: TrainConfig) -> InferenceConfig {
        config.inference.overridden(selfPrompt: selfPrompt, dense: selfPromptDense, padding: selfPromptPadding)
    }

    /// Self-prompting as the flags and `config` set it, or nil when it is off.
    func resolve(_ config: TrainConfig) -> SelfPrompt? { SelfPrompt(settings(config)) }
}

import ArgumentParser
import Distributed
import Foundation
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export g (or h) as a PyTorch state dict: .pth (torch.save's format) or .safetensors.",
        discussion: """
            Example: autosam-dist export runs/demo/best.ckpt --format safetensors --output g.safetensors
            A training checkpoint gives g as ModelEmb's state dict (backbone.*, decoder.*); a train-h
            checkpoint gives h as ModelH's (conv1.*, norm1.*, …). Both load with torch.load(f,
            weights_only=True) / safetensors and then load_state_dict(strict=True). The SAM hash,
            HarDNet variant, input size and loss are recorded (.pth: state_dict._metadata["autosam"]).
            """)

    @Argument(help: "A checkpoint written by train (g) or train-h (h).")
    var checkpoint: String

    @Option(help: "pth or safetensors (default: from --output's extension).")
    var format: String?

    @Option(help: "The file to write.")
    var output: String

    func validate() throws {
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("\(checkpoint): checkpoint not found") }
        _ = try resolvedFormat()
    }

    func resolvedFormat() throws -> StateDictFormat {
        let name = format ?? (output as NSString).pathExtension.lowercased()
        guard let f = StateDictFormat(rawValue: name) else {
            throw ValidationError(format == nil
                ? "\(output): give --format pth or safetensors (the extension does not say which)"
                : "--format must be pth or safetensors, got \(name)")
        }
        return f
    }

    func run() throws {
        do {
            let context = try ThreadPolicy.context(explicit: 1)
            let s = try StateDictExport.export(checkpoint: checkpoint, format: try resolvedFormat(), to: output, context: context)
            print("wrote \(output): \(s.metadata.module), \(s.tensors) tensors, \(s.bytes) bytes")
            for (k, v) in s.metadata.pairs { print("  \(k): \(v)") }
        } catch {
            FileHandle.standardError.write(Data("autosam-dist export: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

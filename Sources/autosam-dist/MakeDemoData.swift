import ArgumentParser
import Datasets
import Foundation

struct MakeDemoData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-demo-data",
        abstract: "Write a small synthetic polyp-like dataset in the PraNet layout (seeded, masks 0/255).")

    @Option(help: "Output directory (TrainDataset/ and TestDataset/Demo/ are created in it).")
    var output = "demo-data"

    @Option(help: "Training pairs.") var train = 40
    @Option(help: "Test pairs.") var test = 10
    @Option(help: "Image side in pixels.") var size = 256
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        if train < 1 || test < 1 { throw ValidationError("--train and --test must be at least 1") }
        if size < 32 || size > 4096 { throw ValidationError("--size must be between 32 and 4096, got \(size)") }
    }

    func run() throws {
        let n = try DemoDataGenerator(size: size, seed: seed).write(to: output, train: train, test: test)
        print("wrote \(n.train) training and \(n.test) test pairs (\(size)×\(size)) to \(output)/")
    }
}

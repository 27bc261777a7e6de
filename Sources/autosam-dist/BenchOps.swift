import ArgumentParser
import Distributed
import Foundation
import Jobs
import Network

/// sgemm and conv2d GFLOP/s at SAM- and HarDNet-like shapes, each against the sgemm peak
/// measured in the same run.
struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "GFLOP/s of sgemm and conv2d forward/backward, as a share of sgemm's peak.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Batch size for the convolutions.")
    var batch: Int = 10

    struct ConvCase { let name: String; let c, k, h, kernel, stride, pad, groups: Int }

    static let convCases: [ConvCase] = [
        .init(name: "3x3 64->64 128^2 (target)", c: 64, k: 64, h: 128, kernel: 3, stride: 1, pad: 1, groups: 1),
        .init(name: "3x3 48->24 64^2 (HarDNet)", c: 48, k: 24, h: 64, kernel: 3, stride: 1, pad: 1, groups: 1),
        .init(name: "1x1 500->192 64^2 (HarDNet)", c: 500, k: 192, h: 64, kernel: 1, stride: 1, pad: 0, groups: 1),
        .init(name: "3x3 320->320 32^2 (decoder)", c: 320, k: 320, h: 32, kernel: 3, stride: 1, pad: 1, groups: 1),
        .init(name: "3x3 s2 64->128 128^2", c: 64, k: 128, h: 128, kernel: 3, stride: 2, pad: 1, groups: 1),
        .init(name: "dw3x3 256 64^2 (TinyViT)", c: 256, k: 256, h: 64, kernel: 3, stride: 1, pad: 1, groups: 256),
        // Narrow shapes at small resolutions (were ConvPerfTests' timings).
        .init(name: "3x3 320->320 8^2", c: 320, k: 320, h: 8, kernel: 3, stride: 1, pad: 1, groups: 1),
        .init(name: "3x3 64->64 16^2", c: 64, k: 64, h: 16, kernel: 3, stride: 1, pad: 1, groups: 1),
        .init(name: "1x1 720->320 8^2", c: 720, k: 320, h: 8, kernel: 1, stride: 1, pad: 0, groups: 1),
    ]

    func run() throws {
        let threads = ThreadPolicy.resolve(explicit: options.threads)
        let backend = try ExecutionContext.make(threads: threads).convolution
        var rng = SeededRNG(seed: 1)
        var results: [[String: Any]] = []

        // sgemm peak at a large square size.
        let n = 1024
        let a = Tensor.randn([n, n], rng: &rng), b = Tensor.randn([n, n], rng: &rng)
        var c = [Float](repeating: 0, count: n * n)
        let tg = BenchClock.median(repeats: max(3, options.repeats)) {
            sgemm(m: n, n: n, k: n, a: a.data, b: b.data, c: &c)
        }
        let peak = 2 * Double(n * n * n) / tg / 1e9
        results.append(["name": "sgemm_1024", "gflops": peak, "seconds": tg, "threads": threads, "of_peak": 1.0])

        for cc in Self.convCases {
            let x = Tensor.randn([batch, cc.c, cc.h, cc.h], rng: &rng)
            let w = Tensor.randn([cc.k, cc.c / cc.groups, cc.kernel, cc.kernel], rng: &rng, scale: 0.05)
            let bias = Tensor.randn([cc.k], rng: &rng)
            let g = Conv2DGeometry(stride: cc.stride, padding: cc.pad, groups: cc.groups)
            let (oh, ow) = g.outputSize(inputH: cc.h, inputW: cc.h, kernelH: cc.kernel, kernelW: cc.kernel)
            let flops = 2 * Double(batch * cc.k * oh * ow * (cc.c / cc.groups) * cc.kernel * cc.kernel)
            var y = Tensor(zeros: [1])
            let tf = try BenchClock.median(repeats: options.repeats) { y = try Conv2D.forward(x, weight: w, bias: bias, g, backend: backend) }
            let dy = Tensor(shape: y.shape, repeating: 0.01)
            let tb = try BenchClock.median(repeats: options.repeats) {
                _ = try Conv2D.backward(dy, input: x, weight: w, g, backend: backend)
            }
            for (dir, t, f) in [("forward", tf, flops), ("backward", tb, 2 * flops)] {
                results.append(["name": "conv2d " + cc.name, "direction": dir, "seconds": t, "gflops": f / t / 1e9,
                                "of_peak": f / t / 1e9 / peak, "threads": threads, "batch": batch])
            }
        }

        if options.json {
            for r in results { print(BenchSupport.jsonLine(r)) }
            return
        }
        print("threads: \(threads); sgemm 1024^3 peak: \(BenchSupport.format(peak, 1)) GFLOP/s")
        print("op".padding(toLength: 42, withPad: " ", startingAt: 0) + "  dir       seconds   GFLOP/s  of sgemm")
        for r in results.dropFirst() {
            let name = (r["name"] as! String).padding(toLength: 42, withPad: " ", startingAt: 0)
            let dir = (r["direction"] as! String).padding(toLength: 9, withPad: " ", startingAt: 0)
            print("\(name)  \(dir) \(BenchSupport.format(r["seconds"] as! Double, 4))   \(BenchSupport.format(r["gflops"] as! Double, 1))    \(BenchSupport.format(100 * (r["of_peak"] as! Double), 0))%")
        }
    }
}

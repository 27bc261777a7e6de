import XCTest
@testable import Network

final class TensorTests: XCTestCase {
    func testSeededRNGIsDeterministicAndNormal() {
        var a = SeededRNG(seed: 7), b = SeededRNG(seed: 7), c = SeededRNG(seed: 8)
        let x = Tensor.randn([10_000], rng: &a), y = Tensor.randn([10_000], rng: &b), z = Tensor.randn([10_000], rng: &c)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(x, z)
        let mean = x.data.reduce(0, +) / Float(x.count)
        let varc = x.data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(varc, 1, accuracy: 0.05)
    }

    func testParameterStoreIsOneFlatBuffer() throws {
        let s = ParameterStore()
        let w = s.register("layer.weight", Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]))
        let b = s.register("layer.bias", Tensor(shape: [2], data: [7, 8]))
        XCTAssertEqual(s.values, [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(b.offset, 6)
        s.accumulateGrad(b, Tensor(shape: [2], data: [1, 1]))
        s.accumulateGrad(b, Tensor(shape: [2], data: [0.5, 2]))
        XCTAssertEqual(Array(s.grads[6...]), [1.5, 3])
        XCTAssertThrowsError(try s.set(w, Tensor(zeros: [3, 2]))) { e in
            XCTAssertEqual(e as? NetworkError, .shapeMismatch(name: "layer.weight", expected: [2, 3], got: [3, 2]))
        }
        XCTAssertEqual(s["layer.bias"], b)
    }

    func testSgemmAgainstNaiveProduct() {
        var rng = SeededRNG(seed: 1)
        let (m, n, k) = (5, 7, 3)
        let a = Tensor.randn([m, k], rng: &rng), b = Tensor.randn([k, n], rng: &rng)
        var c = [Float](repeating: 0, count: m * n)
        sgemm(m: m, n: n, k: k, a: a.data, b: b.data, c: &c)
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for p in 0..<k { s += a.data[i * k + p] * b.data[p * n + j] }
            XCTAssertEqual(c[i * n + j], s, accuracy: 1e-5)
        } }
    }
}

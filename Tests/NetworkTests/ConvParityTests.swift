import XCTest
@testable import Network

/// Forward and backward of the convolution-family ops against PyTorch 2.13 (fixtures written by
/// Tools/reference/fixtures_conv.py). Tolerance: `maxRelativeError` (Fixture.swift),
/// max |ours − torch| / max |torch| over the whole tensor, must be ≤ 1e-4.
final class ConvParityTests: XCTestCase {
    let tol: Float = 1e-4

    func check(_ ours: Tensor?, _ f: Fixture, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let ours else { return XCTFail("\(f.name).\(key): missing", file: file, line: line) }
        let want = f[key]
        XCTAssertEqual(ours.shape, want.shape, "\(f.name).\(key)", file: file, line: line)
        guard ours.shape == want.shape else { return }
        let err = maxRelativeError(ours, want)
        XCTAssertLessThanOrEqual(err, tol, "\(f.name).\(key): max relative error \(err)", file: file, line: line)
    }

    /// The engine the command line would pick (oneDNN where libdnnl loads).
    let backend = TestContexts.standard.convolution

    func testConv2D() throws {
        for name in ["conv2d_3x3_pad1", "conv2d_stride2_dil2", "conv2d_groups2", "conv2d_depthwise", "conv2d_1x1_nobias"] {
            let f = try Fixture(name)
            let g = Conv2DGeometry(stride: f.int("stride"), padding: f.int("padding"),
                                   dilation: f.int("dilation"), groups: f.int("groups"))
            let bias: Tensor? = f.bool("bias") ? f["b"] : nil
            check(try Conv2D.forward(f["x"], weight: f["w"], bias: bias, g, backend: backend), f, "y")
            let gr = try Conv2D.backward(f["dy"], input: f["x"], weight: f["w"], g, backend: backend)
            check(gr.dx, f, "dx")
            check(gr.dWeight, f, "dw")
            check(gr.dBias, f, "db")
        }
    }

    func testConvTranspose2D() throws {
        for name in ["conv_transpose2d_k3s2p1op1", "conv_transpose2d_k2s2", "conv_transpose2d_groups2_dil2"] {
            let f = try Fixture(name)
            let g = ConvTranspose2DGeometry(stride: f.int("stride"), padding: f.int("padding"),
                                            outputPadding: f.int("output_padding"), dilation: f.int("dilation"),
                                            groups: f.int("groups"))
            check(try ConvTranspose2D.forward(f["x"], weight: f["w"], bias: f["b"], g, backend: backend), f, "y")
            let gr = try ConvTranspose2D.backward(f["dy"], input: f["x"], weight: f["w"], g, backend: backend)
            check(gr.dx, f, "dx")
            check(gr.dWeight, f, "dw")
            check(gr.dBias, f, "db")
        }
    }

    func testBilinearResize() throws {
        for name in ["bilinear_up2", "bilinear_down", "bilinear_align_odd", "bilinear_align_down"] {
            let f = try Fixture(name)
            let ac = f.bool("align_corners")
            check(BilinearResize.forward(f["x"], height: f.int("height"), width: f.int("width"), alignCorners: ac), f, "y")
            check(BilinearResize.backward(f["dy"], inputShape: f["x"].shape, alignCorners: ac), f, "dx")
        }
    }

    func testMaxPool() throws {
        for name in ["maxpool_k3s2p1", "maxpool_k2s2_ceil"] {
            let f = try Fixture(name)
            let (y, arg) = Pool2D.maxForward(f["x"], kernel: f.int("kernel"), stride: f.int("stride"),
                                             padding: f.int("padding"), ceilMode: f.bool("ceil_mode"))
            check(y, f, "y")
            check(Pool2D.maxBackward(f["dy"], argmax: arg, inputShape: f["x"].shape), f, "dx")
        }
    }

    func testAvgPool() throws {
        for name in ["avgpool_k3s2p1_ceil", "avgpool_k3s2p1_nopad", "avgpool_k2s2"] {
            let f = try Fixture(name)
            let (k, s, p) = (f.int("kernel"), f.int("stride"), f.int("padding"))
            let (ceil, include) = (f.bool("ceil_mode"), f.bool("count_include_pad"))
            check(Pool2D.avgForward(f["x"], kernel: k, stride: s, padding: p, ceilMode: ceil, countIncludePad: include), f, "y")
            check(Pool2D.avgBackward(f["dy"], inputShape: f["x"].shape, kernel: k, stride: s, padding: p,
                                     ceilMode: ceil, countIncludePad: include), f, "dx")
        }
    }
}

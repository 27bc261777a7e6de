/// nn.BatchNorm2d with γ, β in a `ParameterStore` and the running mean/variance in a
/// `BufferStore` (PyTorch init: γ = 1, β = 0, mean 0, variance 1; momentum 0.1, eps 1e-5).
/// Train mode normalises with batch statistics and updates the running ones; eval mode
/// uses the running ones.
struct BatchNormUnit {
    let store: ParameterStore
    let buffers: BufferStore
    let name: String
    let gamma, beta: Parameter
    let meanSlot, varSlot: Int

    init(_ store: ParameterStore, _ buffers: BufferStore, _ name: String, channels: Int) {
        self.store = store
        self.buffers = buffers
        self.name = name
        gamma = store.register(name + ".weight", Tensor(shape: [channels], repeating: 1))
        beta = store.register(name + ".bias", Tensor(zeros: [channels]))
        meanSlot = buffers.register(name + ".running_mean", [Float](repeating: 0, count: channels))
        varSlot = buffers.register(name + ".running_var", [Float](repeating: 1, count: channels))
    }

    /// The batch statistics in train mode (nil in eval mode) are what backward needs. With a
    /// statistics reducer (SyncBatchNorm), a failed collective throws `SyncBatchNormError`: a
    /// replica is gone, and the caller decides how the run ends.
    func forward(_ x: Tensor, training: Bool) throws -> (y: Tensor, stats: NormStats?) {
        let g = store.tensor(gamma), b = store.tensor(beta)
        if training, let reducer = buffers.statisticsReducer {
            var mean = buffers.slot(meanSlot), variance = buffers.slot(varSlot)
            let r: (y: Tensor, stats: NormStats, count: Int)
            do {
                r = try SyncBatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &mean,
                                                     runningVar: &variance, reducer: reducer, momentum: buffers.batchNormMomentum)
            } catch {
                throw SyncBatchNormError(layer: name, phase: "statistics", underlying: error)
            }
            buffers.withSlot(meanSlot) { $0 = mean }
            buffers.withSlot(varSlot) { $0 = variance }
            var st = r.stats
            st.globalCount = r.count
            return (r.y, st)
        }
        if training {
            var mean = buffers.slot(meanSlot), variance = buffers.slot(varSlot)
            let r = BatchNorm2D.trainForward(x, gamma: g, beta: b, runningMean: &mean, runningVar: &variance,
                                             momentum: buffers.batchNormMomentum)
            buffers.withSlot(meanSlot) { $0 = mean }
            buffers.withSlot(varSlot) { $0 = variance }
            return (r.y, r.stats)
        }
        let y = BatchNorm2D.evalForward(x, gamma: g, beta: b,
                                        runningMean: buffers.slot(meanSlot), runningVar: buffers.slot(varSlot))
        return (y, nil)
    }

    func backward(_ dy: Tensor, input x: Tensor, stats: NormStats?) throws -> Tensor {
        let g = store.tensor(gamma)
        if let st = stats, let m = st.globalCount, let reducer = buffers.statisticsReducer {
            let r: (dx: Tensor, dGamma: Tensor, dBeta: Tensor)
            do {
                r = try SyncBatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: st, count: m, reducer: reducer,
                                                      perSample: store.samples > 0)
            } catch {
                throw SyncBatchNormError(layer: name, phase: "gradient", underlying: error)
            }
            if store.samples > 0 {
                let c = gamma.count
                precondition(r.dGamma.shape == [store.samples, c], "BatchNormUnit \(name): \(r.dGamma.shape[0]) samples, the store keeps \(store.samples) apart")
                r.dGamma.data.withUnsafeBufferPointer { g in
                    for s in 0..<store.samples { store.accumulateGrad(gamma, sample: s, UnsafeBufferPointer(rebasing: g[(s * c)..<((s + 1) * c)])) }
                }
                r.dBeta.data.withUnsafeBufferPointer { b in
                    for s in 0..<store.samples { store.accumulateGrad(beta, sample: s, UnsafeBufferPointer(rebasing: b[(s * c)..<((s + 1) * c)])) }
                }
                return r.dx
            }
            store.accumulateGrad(gamma, r.dGamma)
            store.accumulateGrad(beta, r.dBeta)
            return r.dx
        }
        guard store.samples == 0 else {
            throw NetworkError.invalidArgument("BatchNormUnit \(name): per-sample gradients need a statistics reducer that keeps the sample order")
        }
        let r = stats.map { BatchNorm2D.trainBackward(dy, input: x, gamma: g, stats: $0) }
            ?? BatchNorm2D.evalBackward(dy, input: x, gamma: g,
                                        runningMean: buffers.slot(meanSlot), runningVar: buffers.slot(varSlot))
        store.accumulateGrad(gamma, r.dGamma)
        store.accumulateGrad(beta, r.dBeta)
        return r.dx
    }

    /// A convolution's weight and bias (or nil) with this BatchNorm, in eval mode, folded in.
    func fold(weight w: Tensor, bias b: Tensor?) -> (weight: Tensor, bias: Tensor) {
        BatchNorm2D.foldIntoConvolution(weight: w, bias: b, gamma: store.tensor(gamma).data, beta: store.tensor(beta).data,
                                        mean: buffers.slot(meanSlot), variance: buffers.slot(varSlot))
    }
}

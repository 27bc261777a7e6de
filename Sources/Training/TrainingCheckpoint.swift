import Datasets
import Foundation
import Network

/// Everything needed to resume training exactly or to evaluate: g's parameters (by name),
/// its BatchNorm running statistics, Adam's state, the position in the schedule and the
/// config. Layout: "ASCK0001", u64 header length, JSON header, float32 blobs, and a
/// 16-byte content hash of all preceding bytes, so truncation or corruption is detected
/// and reported with the file's name. Written atomically.
public struct TrainingCheckpoint {
    public struct Header: Codable, Equatable {
        public var format = 1
        public var backbone: String
        public var sam: String
        public var epoch: Int                 // epochs completed
        public var step: Int                  // optimiser steps taken
        public var bestValidationDice: Double?
        public var configYAML: String
        public var parameters: [Entry]
        public var buffers: [Entry]
        public var adam: AdamHeader
        public var history: [[String: Double]]
        /// Set only in a surrogate decoder h checkpoint (backbone "surrogate_h", written by
        /// `train-h`): the g checkpoint whose frozen output h was trained on.
        public var generator: GeneratorReference?
        /// Where in the epoch a step checkpoint stopped (nil: at the end of `epoch`).
        public var position: Position?
        /// What the run was trained against, so a resume with other inputs is refused.
        public var identity: RunIdentity?
        /// The rank count it was written with.
        public var ranks: Int?

        public init(format: Int = 1, backbone: String, sam: String, epoch: Int, step: Int, bestValidationDice: Double?,
                    configYAML: String, parameters: [Entry], buffers: [Entry], adam: AdamHeader,
                    history: [[String: Double]], generator: GeneratorReference? = nil,
                    position: Position? = nil, identity: RunIdentity? = nil, ranks: Int? = nil) {
            self.format = format
            self.backbone = backbone
            self.sam = sam
            self.epoch = epoch
            self.step = step
            self.bestValidationDice = bestValidationDice
            self.configYAML = configYAML
            self.parameters = parameters
            self.buffers = buffers
            self.adam = adam
            self.history = history
            self.generator = generator
            self.position = position
            self.identity = identity
            self.ranks = ranks
        }
    }
    /// A point inside an epoch: the next batch to train and the epoch's training sums so far.
    public struct Position: Codable, Equatable {
        public var epoch: Int                 // the epoch in progress (0-based)
        public var batch: Int                 // batches of it already trained
        public var lossSum: Double            // Σ loss·samples over those batches
        public var diceSum: Double
        public var samples: Int
        public var seconds: Double
        public init(epoch: Int, batch: Int, lossSum: Double, diceSum: Double, samples: Int, seconds: Double) {
            self.epoch = epoch; self.batch = batch; self.lossSum = lossSum; self.diceSum = diceSum
            self.samples = samples; self.seconds = seconds
        }
    }
    /// A g checkpoint by path, with a hash of g's parameters and running statistics so a
    /// different g under the same path is detected.
    public struct GeneratorReference: Codable, Equatable {
        public var path: String
        public var hash: String
        public init(path: String, hash: String) { self.path = path; self.hash = hash }
    }
    public struct Entry: Codable, Equatable {
        public var name: String; public var shape: [Int]
        public init(name: String, shape: [Int]) { self.name = name; self.shape = shape }
    }
    public struct AdamHeader: Codable, Equatable {
        public var lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int
        public init(lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int) {
            self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay; self.step = step
        }
    }

    public var header: Header
    public var parameters: [Float]
    public var buffers: [Float]
    public var adamM: [Float]
    public var adamV: [Float]

    static let magic = Array("ASCK0001".utf8)

    public init(header: Header, parameters: [Float], buffers: [Float], adamM: [Float], adamV: [Float]) {
        self.header = header
        self.parameters = parameters
        self.buffers = buffers
        self.adamM = adamM
        self.adamV = adamV
    }

    public func write(to path: String) throws {
        var d = Data(Self.magic)
        let h = try JSONEncoder().encode(header)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(h)
        for blob in [parameters, buffers, adamM, adamV] { blob.withUnsafeBytes { d.append(contentsOf: $0) } }
        var hash = ContentHash()
        d.withUnsafeBytes { hash.update($0) }
        d.append(contentsOf: Array(hash.hex.utf8).prefix(32))
        try AtomicFile.write(d, to: path)
    }

    public static func read(_ path: String) throws -> TrainingCheckpoint {
        func fail(_ s: String) -> FileError { FileError(path: path, problem: s) }
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw fail("cannot read the checkpoint (missing or unreadable)")
        }
        guard d.count >= magic.count + 8 + 32, Array(d.prefix(magic.count)) == magic else {
            throw fail("not an autosam-dist checkpoint (bad magic or too short: \(d.count) bytes)")
        }
        var hash = ContentHash()
        d.prefix(d.count - 32).withUnsafeBytes { hash.update($0) }
        guard Array(d.suffix(32)) == Array(hash.hex.utf8) else {
            throw fail("checkpoint is truncated or corrupted (content hash mismatch, \(d.count) bytes)")
        }
        let hlen = Int(UInt64(littleEndian: d.subdata(in: magic.count..<(magic.count + 8)).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let hStart = magic.count + 8
        guard hStart + hlen <= d.count - 32 else { throw fail("header length \(hlen) exceeds the file") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: d.subdata(in: hStart..<(hStart + hlen))) } catch {
            throw fail("unreadable checkpoint header: \(error)")
        }
        guard header.format == 1 else { throw fail("checkpoint format \(header.format) is newer than this program understands (1)") }
        let np = header.parameters.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let nb = header.buffers.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let sizes = [np, nb, np, np]
        guard hStart + hlen + sizes.reduce(0, +) * 4 == d.count - 32 else {
            throw fail("checkpoint payload size does not match its header")
        }
        var off = hStart + hlen
        var blobs: [[Float]] = []
        for n in sizes {
            var a = [Float](repeating: 0, count: n)
            _ = a.withUnsafeMutableBytes { d.copyBytes(to: $0, from: off..<(off + n * 4)) }
            blobs.append(a)
            off += n * 4
        }
        return TrainingCheckpoint(header: header, parameters: blobs[0], buffers: blobs[1], adamM: blobs[2], adamV: blobs[3])
    }
}

extension TrainingCheckpoint {
    /// g's checkpoint as `train` writes it (`Trainer.checkpoint()`): g's parameters by name,
    /// its BatchNorm running statistics, Adam's state, the position in the schedule and the
    /// config (whose backbone and SAM kind name the model).
    public init(generator g: PromptGenerator, config: TrainConfig, adam: Adam, epoch: Int, step: Int,
                bestValidationDice: Double?, history: [[String: Double]], position: Position? = nil,
                identity: RunIdentity? = nil, ranks: Int? = nil) throws {
        let header = Header(
            backbone: config.generator.backbone, sam: config.model.sam.rawValue, epoch: epoch, step: step,
            bestValidationDice: bestValidationDice, configYAML: try config.yaml(),
            parameters: g.store.parameters.map { .init(name: $0.name, shape: $0.shape) },
            buffers: g.buffers.named.map { .init(name: $0.name, shape: [$0.values.count]) },
            adam: .init(lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weightDecay: adam.weightDecay, step: adam.step),
            history: history, position: position, identity: identity, ranks: ranks)
        self.init(header: header, parameters: g.store.values, buffers: g.buffers.flatValues, adamM: adam.m, adamV: adam.v)
    }
}

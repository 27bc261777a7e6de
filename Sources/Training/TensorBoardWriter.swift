import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends scalar `Event`s to `<directory>/events.out.tfevents.<unix time>.<hostname>` in
/// TFRecord framing, so `tensorboard --logdir` reads a run as it reads PyTorch's
/// SummaryWriter output. Each run (and each resume) opens a new file; its first events are the
/// file version and a SessionLog.START at `startStep`, which makes TensorBoard drop what an
/// interrupted run logged at steps the resumed run repeats.
public final class TensorBoardWriter {
    public let path: String
    let handle: FileHandle

    public init(directory: String, startStep: Int, now: Date = Date()) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = directory + "/events.out.tfevents.\(Int(now.timeIntervalSince1970)).\(Self.hostname())"
        var candidate = base, n = 0
        // Two runs started in the same second must not share a file.
        while FileManager.default.fileExists(atPath: candidate) { n += 1; candidate = base + ".\(n)" }
        guard FileManager.default.createFile(atPath: candidate, contents: nil),
              let h = FileHandle(forWritingAtPath: candidate) else {
            throw FileError(path: candidate, problem: "cannot create the TensorBoard event file")
        }
        path = candidate
        handle = h
        let t = now.timeIntervalSince1970
        try write(TensorBoardEvent(wallTime: t, step: 0, fileVersion: "brain.Event:2"))
        try write(TensorBoardEvent(wallTime: t, step: Int64(startStep), sessionStart: true))
    }

    deinit { try? handle.close() }

    /// One event holding `scalars` (tag → value) at `step`, tags in sorted order.
    public func scalars(_ scalars: [String: Double], step: Int, at time: Date = Date()) throws {
        let values = scalars.keys.sorted().map { TensorBoardEvent.Scalar($0, Float(scalars[$0]!)) }
        try write(TensorBoardEvent(wallTime: time.timeIntervalSince1970, step: Int64(step), scalars: values))
    }

    public func write(_ event: TensorBoardEvent) throws {
        do { try handle.write(contentsOf: Self.record(event.encoded())) } catch {
            throw FileError(path: path, problem: "cannot append a TensorBoard event: \(error)")
        }
    }

    /// TFRecord framing: uint64 length, masked CRC-32C of those 8 bytes, the data, masked CRC-32C
    /// of the data (all little-endian).
    public static func record(_ data: [UInt8]) -> Data {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        var out = length
        out += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        out += data
        out += withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init)
        return Data(out)
    }

    static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }
}

/// The trainer's scalars under TensorBoard tags: `step/…` at every optimiser step and
/// `epoch/…` (each metrics.jsonl key) at the step an epoch ends.
extension TensorBoardWriter {
    public func step(_ step: Int, loss: Double, learningRate: Double, imagesPerSecond: Double) throws {
        try scalars(["step/loss": loss, "step/learning_rate": learningRate, "step/images_per_s": imagesPerSecond], step: step)
    }

    public func epoch(_ row: [String: Double], step: Int) throws {
        var tagged: [String: Double] = [:]
        for (k, v) in row where k != "step" { tagged["epoch/" + k] = v }
        try scalars(tagged, step: step)
    }
}

/// A binary segmentation mask: one byte per pixel, 0 (background) or 1 (foreground), row-major.
public struct Mask: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "Mask: \(width)x\(height) needs \(width * height) values, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public var foregroundCount: Int { pixels.reduce(0) { $0 + Int($1) } }
}

/// An instance map: 0 is background, each object has its own positive label (MoNuSeg nuclei, GlaS glands).
public struct InstanceMap: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var labels: [Int32]

    public init(width: Int, height: Int, labels: [Int32]) {
        precondition(labels.count == width * height)
        self.width = width
        self.height = height
        self.labels = labels
    }

    /// The binary mask `labels > 0`.
    public var binary: Mask { Mask(width: width, height: height, pixels: labels.map { $0 > 0 ? 1 : 0 }) }

    public var instanceCount: Int { Set(labels.filter { $0 > 0 }).count }
}

import Foundation

/// How a raster annotation becomes binary.
public enum MaskRule: String, Sendable, Codable, Hashable {
    /// Gray value ≥ 128 (PIL's `convert('L') > 127`): polyp masks are 0/255 but JPEG-compressed, so never
    /// exactly binary; RGB masks with equal channels read as their gray value.
    case threshold128
    /// Any channel > 0: instance-label annotations (GlaS `*_anno.bmp`, 0 = background).
    case nonZero
}

/// Loads ground-truth masks: raster images (any format ImageDecoder reads) or Aperio XML polygons.
public enum MaskLoader {
    /// True when the file is XML (its first non-blank byte is `<`), i.e. a polygon annotation.
    public static func isXML(_ path: String) throws -> Bool {
        let head = try FileBytes.prefix(path, count: 64)
        var bytes = head[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        return bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "<")
    }

    /// A 0/1 mask. For XML annotations the image size is required (the polygons carry none); for
    /// raster masks, when given, it must match or an ImageError names the mask and both sizes.
    public static func binary(_ path: String, rule: MaskRule = .threshold128,
                              imageWidth: Int? = nil, imageHeight: Int? = nil) throws -> Mask {
        if try isXML(path) {
            return try instances(path, imageWidth: imageWidth, imageHeight: imageHeight).binary
        }
        let mask: Mask
        switch rule {
        case .threshold128:
            let g = try ImageDecoder.read(path, channels: 1)
            mask = Mask(width: g.width, height: g.height, pixels: g.pixels.map { $0 >= 128 ? 1 : 0 })
        case .nonZero:
            let c = try ImageDecoder.read(path, channels: 3)
            var px = [UInt8](repeating: 0, count: c.width * c.height)
            for i in 0..<px.count where c.pixels[3 * i] | c.pixels[3 * i + 1] | c.pixels[3 * i + 2] != 0 { px[i] = 1 }
            mask = Mask(width: c.width, height: c.height, pixels: px)
        }
        try checkSize(path, mask.width, mask.height, imageWidth, imageHeight)
        return mask
    }

    /// An instance map: XML polygons rasterised (nucleus i → label i + 1, touching nuclei stay apart), or
    /// for a raster label image each distinct non-zero colour numbered 1, 2, … in order of first appearance.
    public static func instances(_ path: String, imageWidth: Int? = nil, imageHeight: Int? = nil) throws -> InstanceMap {
        if try isXML(path) {
            guard let w = imageWidth, let h = imageHeight else {
                throw ImageError(path: path, problem: "a polygon annotation needs its image's size to be rasterised")
            }
            return try AperioXML.instances(path, width: w, height: h)
        }
        let c = try ImageDecoder.read(path, channels: 3)
        try checkSize(path, c.width, c.height, imageWidth, imageHeight)
        var ids: [UInt32: Int32] = [:]
        var labels = [Int32](repeating: 0, count: c.width * c.height)
        for i in 0..<labels.count {
            let key = UInt32(c.pixels[3 * i]) << 16 | UInt32(c.pixels[3 * i + 1]) << 8 | UInt32(c.pixels[3 * i + 2])
            guard key != 0 else { continue }
            if let id = ids[key] { labels[i] = id } else {
                let id = Int32(ids.count + 1)
                ids[key] = id
                labels[i] = id
            }
        }
        return InstanceMap(width: c.width, height: c.height, labels: labels)
    }

    static func checkSize(_ path: String, _ w: Int, _ h: Int, _ iw: Int?, _ ih: Int?) throws {
        if let iw, let ih, iw != w || ih != h {
            throw ImageError(path: path, problem: "mask is \(w)x\(h) but its image is \(iw)x\(ih)")
        }
    }
}

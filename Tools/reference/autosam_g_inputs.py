"""g with `generator.input` image | embedding | both in PyTorch, with the state-dict names of
the Swift PromptGenerator (Sources/Network/PromptGenerator/PromptGenerator.swift,
EmbeddingHead.swift):

  embedding_head   conv1 3×3 (256→96, no bias) → BN1 → ReLU → conv2 3×3 (96→96, no bias) → BN2 → ReLU
                   on SAM's image embedding [N, 256, H, W]
  image            backbone (HarDNet `backbone.base.…` or MobileNetV2 `backbone.features.…`)
                   → decoder.up1(x16, x8) → decoder.up2(·, x4)  (d4 channels at stride 4)
  decoder.final    CNNBlock(in, 256): in = d4 (image), 96 (embedding), d4 + 96 (both)

For `both` the image part (first) and the head's output are concatenated along channels,
the image part resized first to the embedding's grid (bilinear, align_corners=False) when
the sizes differ. Then tanh, then bilinear resize to 64×64 with align_corners=True (as ModelEmb).
`embedding` builds no backbone and no up blocks. forward(image, embedding): the image is
ignored for `embedding`, the embedding for `image`.

State-dict order: torch lists a module's keys depth first, so `decoder.final` follows
`decoder.up2` here while Swift's export puts `embedding_head` between them for `both`
(the keys and shapes are the same; load_state_dict does not depend on order). For
`embedding` the head is registered first, matching Swift's order.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autosam_g_modules import CNNBlock, HarDNet, UpBlockSkip
from mobilenet_v2 import MobileNetV2Backbone

HEAD_WIDTH = 96
INPUTS = ("image", "embedding", "both")


class EmbeddingHead(nn.Module):
    def __init__(self, cin=256, width=HEAD_WIDTH):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False)
        self.BN1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.BN2 = nn.BatchNorm2d(width)

    def forward(self, e):
        return F.relu(self.BN2(self.conv2(F.relu(self.BN1(self.conv1(e))))))


class _Decoder(nn.Module):
    """`decoder.up1`, `decoder.up2` (image path only) and `decoder.final`."""

    def __init__(self, d, final_in, out=256):
        super().__init__()
        if d is not None:
            d4, d8, d16 = d
            self.up1 = UpBlockSkip(d16 + d8, d8)
            self.up2 = UpBlockSkip(d8 + d4, d4)
        self.final = CNNBlock(final_in, out)


def _backbone(name):
    """The backbone and its widths at strides 4, 8, 16 (HarDNet also returns x2)."""
    if name == "mobilenet_v2":
        b = MobileNetV2Backbone()
        return b, list(b.channels)
    b = HarDNet(name)
    return b, list(b.channels[-3:])


class ModelEmbInputs(nn.Module):
    def __init__(self, input="image", backbone="mobilenet_v2", out=256):
        super().__init__()
        assert input in INPUTS, input
        self.input = input
        final_in = 0
        if input == "embedding":
            self.embedding_head = EmbeddingHead(out)  # registered first: Swift's key order
            self.decoder = _Decoder(None, HEAD_WIDTH, out)
            return
        self.backbone, d = _backbone(backbone)
        final_in = d[0] + (HEAD_WIDTH if input == "both" else 0)
        self.decoder = _Decoder(d, final_in, out)
        if input == "both":
            self.embedding_head = EmbeddingHead(out)

    def forward(self, img, embedding=None):
        parts = []
        if self.input != "embedding":
            x4, x8, x16 = self.backbone(img)[-3:]
            parts.append(self.decoder.up2(self.decoder.up1(x16, x8), x4))
        if self.input != "image":
            h = self.embedding_head(embedding)
            if parts and parts[0].shape[-2:] != h.shape[-2:]:
                parts[0] = F.interpolate(parts[0], size=tuple(h.shape[-2:]), mode="bilinear", align_corners=False)
            parts.append(h)
        z = torch.tanh(self.decoder.final(torch.cat(parts, 1)))
        return F.interpolate(z, (64, 64), mode="bilinear", align_corners=True)

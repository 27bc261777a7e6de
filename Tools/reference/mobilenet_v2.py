"""torchvision's MobileNetV2 (width 1.0) as plain nn.Modules with torchvision's state-dict
names, written from the facts of torchvision/models/mobilenetv2.py (torchvision is not
installed here), and g's MobileNetV2 variant built on it.

  features.0        Conv2dNormActivation(3→32, 3×3, stride 2): .0 Conv2d (no bias), .1 BatchNorm2d, ReLU6
  features.1 … 17   InvertedResidual from SETTINGS (t, c, n, s); stride s on a group's first block only
  features.18       Conv2dNormActivation(320→1280, 1×1)
  classifier.1      Linear(1280, 1000)  (classifier.0 is Dropout(0.2))

InvertedResidual `features.i.conv` (a Sequential): `conv.0` the 1×1 expansion ConvNormAct
(absent when t = 1), then the depthwise 3×3 ConvNormAct (stride s, groups = hidden), then the
1×1 projection Conv2d (no bias) and its BatchNorm2d, no activation; x is added back when the
stride is 1 and the widths match. BatchNorm eps 1e-5, momentum 0.1.

g's backbone keeps features.0 … features.13 (`MobileNetV2Backbone`); its stages are
features.3 (24 channels, stride 4), features.6 (32, stride 8) and features.13 (96, stride 16)
(features.1, 16 channels at stride 2, is not read by the decoder). Its input is LiteMedSAM's
preprocessed image, RGB in [0, 1]; it normalises with ImageNet's mean and std first.

The ImageNet checkpoint is torchvision's mobilenet_v2-b0353104.pth (weights/, fetched by
Launch/fetch-weights.sh): 314 tensors, `num_batches_tracked` included; a legacy (pre-1.6,
non-zip) torch.save file. `load_classifier(path)` loads it strictly.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from autosam_g_modules import CNNBlock, UpBlockSkip

SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
STAGES = [1, 3, 6, 13]            # features indices of the stride 2, 4, 8, 16 stages
DECODER_STAGES = STAGES[1:]       # the ones g's decoder reads: x4, x8, x16
LAST_BACKBONE = STAGES[-1]        # g keeps features.0 … features.13
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


class ConvNormActivation(nn.Sequential):
    """torchvision's Conv2dNormActivation with ReLU6: `0` Conv2d (no bias), `1` BatchNorm2d, `2` ReLU6."""

    def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1),
            nn.ReLU6(inplace=False),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = int(round(cin * t))
        self.use_res_connect = stride == 1 and cin == cout
        layers = []
        if t != 1:
            layers.append(ConvNormActivation(cin, hidden, kernel=1))
        layers += [
            ConvNormActivation(hidden, hidden, kernel=3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = cout

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def build_features(last=18):
    """features.0 … features.<last> as torchvision numbers them, and each one's output width."""
    mods, widths, ch = [ConvNormActivation(3, 32, kernel=3, stride=2)], [32], 32
    for t, c, n, s in SETTINGS:
        for i in range(n):
            mods.append(InvertedResidual(ch, c, s if i == 0 else 1, t))
            widths.append(c)
            ch = c
    mods.append(ConvNormActivation(ch, 1280, kernel=1))
    widths.append(1280)
    assert len(mods) == 19
    return nn.Sequential(*mods[:last + 1]), widths[:last + 1]


class MobileNetV2(nn.Module):
    """The full ImageNet classifier (for strict loading of the checkpoint)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features, _ = build_features()
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def load_state_dict_file(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def load_classifier(path):
    """The full network with the file's weights, loaded strictly (every key, every shape)."""
    net = MobileNetV2()
    net.load_state_dict(load_state_dict_file(path), strict=True)
    return net


def is_backbone_key(key):
    parts = key.split(".")
    return parts[0] == "features" and int(parts[1]) <= LAST_BACKBONE


class MobileNetV2Backbone(nn.Module):
    """features.0 … features.13 (state-dict names `features.N…`); forward takes the [0, 1] RGB
    image [N, 3, H, W], normalises it with ImageNet's mean and std, and returns [x4, x8, x16]."""

    def __init__(self):
        super().__init__()
        self.features, widths = build_features(LAST_BACKBONE)
        self.channels = [widths[i] for i in DECODER_STAGES]   # (24, 32, 96)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, img):
        x = (img - self.mean) / self.std
        outs = []
        for i, m in enumerate(self.features):
            x = m(x)
            if i in DECODER_STAGES:
                outs.append(x)
        return outs

    def load_imagenet(self, state_dict):
        """The checkpoint's features.0–13 tensors, strictly; returns how many were assigned."""
        sub = {k: v for k, v in state_dict.items() if is_backbone_key(k)}
        self.load_state_dict(sub, strict=True)
        return len(sub)


class StageDecoder(nn.Module):
    """AutoSAM's SmallDecoder wiring (autosam_g_modules.SmallDecoder, same state-dict names) on
    three stages [x4, x8, x16] with widths d = (d4, d8, d16)."""

    def __init__(self, d, out=256):
        super().__init__()
        d4, d8, d16 = d
        self.up1 = UpBlockSkip(d16 + d8, d8)
        self.up2 = UpBlockSkip(d8 + d4, d4)
        self.final = CNNBlock(d4, out)

    def forward(self, xs):
        x4, x8, x16 = xs
        return torch.tanh(self.final(self.up2(self.up1(x16, x8), x4)))


class ModelEmbMobileNetV2(nn.Module):
    """g with the MobileNetV2 backbone: `backbone.features.N…`, `decoder.up1/up2/final…`;
    [0, 1] image in, dense prompt embedding [N, 256, 64, 64] out."""

    def __init__(self):
        super().__init__()
        self.backbone = MobileNetV2Backbone()
        self.decoder = StageDecoder(self.backbone.channels, 256)

    def forward(self, img):
        z = self.decoder(self.backbone(img))
        return F.interpolate(z, (64, 64), mode="bilinear", align_corners=True)

"""AutoSAM's g (ModelEmb: HarDNet + SmallDecoder) and h (ModelH) in PyTorch, written from
the facts of the authors' models/hardnet.py, models/base.py and models/model_single.py
(talshaharabany/AutoSAM), with their module and state-dict names. `full=True` builds the
backbone the authors' code keeps (through the stride-32 stage) and the unused CNNBlock.BN2,
for counting parameters; the default stops at stride 16 like the Swift model.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = {
    # first_ch, grmul, depthwise, growth, layers, transition, downsample
    "hardnet85": ((48, 96), 1.7, False, [24, 24, 28, 36, 48, 256], [8, 16, 16, 16, 16, 4],
                  [192, 256, 320, 480, 720, 1280], [1, 0, 1, 0, 1, 0]),
    "hardnet68": ((32, 64), 1.7, False, [14, 16, 20, 40, 160], [8, 16, 16, 16, 4],
                  [128, 256, 320, 640, 1024], [1, 0, 1, 1, 0]),
    "hardnet39ds": ((24, 48), 1.6, True, [16, 20, 64, 160], [4, 16, 8, 4],
                    [96, 320, 640, 1024], [1, 1, 1, 0]),
}


class ConvLayer(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False))
        self.add_module("norm", nn.BatchNorm2d(cout))
        self.add_module("relu", nn.ReLU6())


class DWConvLayer(nn.Sequential):
    def __init__(self, ch, stride=1):
        super().__init__()
        self.add_module("dwconv", nn.Conv2d(ch, ch, 3, stride, 1, groups=ch, bias=False))
        self.add_module("norm", nn.BatchNorm2d(ch))


class CombConvLayer(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.add_module("layer1", ConvLayer(cin, cout, kernel=1))
        self.add_module("layer2", DWConvLayer(cout))


def link(layer, base, growth, grmul):
    if layer == 0:
        return base, []
    out, links = growth, []
    for i in range(10):
        if layer % (2 ** i) == 0:
            links.append(layer - 2 ** i)
            if i > 0:
                out *= grmul
    return int(int(out + 1) / 2) * 2, links


class HarDBlock(nn.Module):
    def __init__(self, cin, growth, grmul, n, depthwise):
        super().__init__()
        widths, self.links, layers = [cin], [], []
        for k in range(1, n + 1):
            w, ln = link(k, cin, growth, grmul)
            inch = sum(widths[j] for j in ln)
            layers.append(CombConvLayer(inch, w) if depthwise else ConvLayer(inch, w))
            widths.append(w)
            self.links.append(ln)
        self.layers = nn.ModuleList(layers)
        self.outputs = [k for k in range(n + 1) if k == n or k % 2 == 1]
        self.out_channels = sum(widths[k] for k in self.outputs)

    def forward(self, x):
        outs = [x]
        for ln, layer in zip(self.links, self.layers):
            outs.append(layer(torch.cat([outs[j] for j in ln], 1) if len(ln) > 1 else outs[ln[0]]))
        return torch.cat([outs[k] for k in self.outputs], 1)


class HarDNet(nn.Module):
    def __init__(self, variant, full=False):
        super().__init__()
        (c0, c1), grmul, dw, gr, nl, ch_list, down = VARIANTS[variant]
        base = [ConvLayer(3, c0, 3, 2), ConvLayer(c0, c1, 1 if dw else 3)]
        self.taps, self.channels = [], []
        stages = 5 if full and variant != "hardnet39ds" else 4  # the authors cut 39DS at stride 16

        def downsample(ch, k, p):
            self.taps.append(len(base) - 1)
            self.channels.append(ch)
            if len(self.taps) == stages:
                return False
            base.append(DWConvLayer(ch, 2) if dw else nn.MaxPool2d(k, 2, p))
            return True

        ch, going = c1, downsample(c1, 3, 1)
        for i in range(len(gr)):
            if not going:
                break
            blk = HarDBlock(ch, gr[i], grmul, nl[i], dw)
            base.append(blk)
            if full and variant == "hardnet85" and i == len(gr) - 1:
                base.append(nn.Dropout(0.1))
            base.append(ConvLayer(blk.out_channels, ch_list[i], kernel=1))
            ch = ch_list[i]
            if down[i]:
                going = downsample(ch, 2, 0)
            elif i == len(gr) - 1:
                downsample(ch, 0, 0)
        self.base = nn.ModuleList(base)

    def forward(self, x):
        outs = []
        for i, m in enumerate(self.base):
            x = m(x)
            if i in self.taps:
                outs.append(x)
        return outs


class UpBlockSkip(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.BN = nn.BatchNorm2d(cout)

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.leaky_relu(self.BN(self.conv2(self.conv1(torch.cat((x, skip), 1)))))


class CNNBlock(nn.Module):
    def __init__(self, cin, cout, full=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.BN1 = nn.BatchNorm2d(cout)
        if full:
            self.BN2 = nn.BatchNorm2d(cout)  # constructed by the authors, never applied

    def forward(self, x):
        return self.conv2(F.relu(self.BN1(self.conv1(x))))


class SmallDecoder(nn.Module):
    def __init__(self, d, out=256, full=False):
        super().__init__()
        self.up1 = UpBlockSkip(d[3] + d[2], d[2])
        self.up2 = UpBlockSkip(d[2] + d[1], d[1])
        self.final = CNNBlock(d[1], out, full)

    def forward(self, x):
        return torch.tanh(self.final(self.up2(self.up1(x[3], x[2]), x[1])))


class ModelEmb(nn.Module):
    def __init__(self, variant="hardnet85", full=False):
        super().__init__()
        self.backbone = HarDNet(variant, full)
        self.decoder = SmallDecoder(self.backbone.channels, 256, full)

    def forward(self, img):
        z = self.decoder(self.backbone(img))
        return F.interpolate(z, (64, 64), mode="bilinear", align_corners=True)


class LayerNorm2d(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ModelH(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(256, 64, 3, stride=2, padding=1)
        self.norm1 = LayerNorm2d(64)
        self.gelu = nn.GELU()
        self.conv2 = nn.ConvTranspose2d(64, 16, kernel_size=2, stride=2)
        self.norm2 = LayerNorm2d(16)
        self.conv3 = nn.Conv2d(16, 1, kernel_size=1)

    def forward(self, z):
        h, w = z.shape[-2:]
        z = self.gelu(self.norm1(self.conv1(z, output_size=(2 * h, 2 * w))))
        z = self.gelu(self.norm2(self.conv2(z)))
        return self.conv3(z)

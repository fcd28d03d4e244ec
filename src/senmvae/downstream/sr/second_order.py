"""The practitioners' degradation model: Real-ESRGAN's randomized second-order pipeline.

Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic
Data" (ICCV Workshops 2021), as in its training code (``realesrgan_model.py`` and
``basicsr/data/degradations.py``), defaults from ``train_realesrnet_x4plus.yml``:

    HR -> [blur -> random resize -> Gaussian or Poisson noise -> JPEG]          (first order)
       -> [blur (p 0.8) -> random resize -> Gaussian or Poisson noise]          (second order)
       -> either [resize to HR / scale -> sinc] -> JPEG, or JPEG -> [resize -> sinc]
       -> clip and round to 8 bits

Blur kernels are isotropic or anisotropic Gaussians, generalized Gaussians or plateau
kernels (rotated, random size 7-21), or with some probability a 2-D sinc (ideal circular
low-pass, which makes ringing); the final sinc is applied with probability 0.8.

Differences from the original, all deliberate: every random choice is drawn per image (the
original draws the resize factor, the interpolation mode and the JPEG/sinc order once per
batch), from the caller's torch generator so that a batch is reproducible; JPEG is Pillow's
encoder at an integer quality (the original uses a differentiable JPEG); and the HR target
is not unsharp-masked (Real-ESRGAN sharpens it, which would lower PSNR against the real HR).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from scipy import special
from torch.nn import functional as F

from senmvae.config import Config, ConfigError

KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")
GRAY = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as torchvision's rgb_to_grayscale


def _check_range(name: str, pair: tuple[float, ...], low: float = 0.0, high: float = math.inf) -> None:
    if len(pair) != 2 or not low <= pair[0] <= pair[1] <= high:
        raise ConfigError(f"{name} must be [min, max] with {low} <= min <= max <= {high}, got {list(pair)}")


def _check_probabilities(name: str, values: tuple[float, ...], count: int) -> None:
    if len(values) != count or any(v < 0 for v in values) or not sum(values) > 0:
        raise ConfigError(f"{name} must be {count} non-negative weights that are not all zero, got {list(values)}")


@dataclass
class BlurConfig(Config):
    """The random blur kernel of one stage (Real-ESRGAN's ``kernel_list``, ``kernel_prob``, ...)."""

    kinds: tuple[str, ...] = KERNEL_KINDS
    probabilities: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    size: tuple[int, ...] = (7, 21)  # odd kernel sides, drawn uniformly from this range
    sigma: tuple[float, ...] = (0.2, 3.0)
    beta_generalized: tuple[float, ...] = (0.5, 4.0)
    beta_plateau: tuple[float, ...] = (1.0, 2.0)
    sinc_probability: float = 0.1  # a sinc kernel instead of the kinds above

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KERNEL_KINDS]
        if unknown:
            raise ConfigError(f"unknown blur kernel kinds {unknown}; choose from {', '.join(KERNEL_KINDS)}")
        _check_probabilities("blur probabilities", self.probabilities, len(self.kinds))
        _check_range("blur size", self.size, 3)
        if self.size[0] % 2 == 0 or self.size[1] % 2 == 0:
            raise ConfigError(f"blur size bounds must be odd, got {list(self.size)}")
        _check_range("blur sigma", self.sigma, 1e-3)
        _check_range("beta_generalized", self.beta_generalized, 1e-3)
        _check_range("beta_plateau", self.beta_plateau, 1e-3)
        _check_range("sinc_probability", (self.sinc_probability, self.sinc_probability), 0.0, 1.0)


@dataclass
class StageConfig(Config):
    """One order of the degradation: blur, resize, noise (and, for the first, JPEG)."""

    blur_probability: float = 1.0
    blur: BlurConfig = field(default_factory=BlurConfig)
    resize_probabilities: tuple[float, ...] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, ...] = (0.15, 1.5)  # factor drawn in [min, 1] (down) or [1, max] (up)
    gaussian_noise_probability: float = 0.5  # else Poisson noise
    noise_sigma: tuple[float, ...] = (1.0, 30.0)  # Gaussian std, 8-bit units
    poisson_scale: tuple[float, ...] = (0.05, 3.0)
    gray_noise_probability: float = 0.4  # the same noise in every channel
    jpeg_quality: tuple[float, ...] = (30.0, 95.0)

    def __post_init__(self) -> None:
        for name in ("blur_probability", "gaussian_noise_probability", "gray_noise_probability"):
            value = getattr(self, name)
            _check_range(name, (value, value), 0.0, 1.0)
        _check_probabilities("resize_probabilities (up, down, keep)", self.resize_probabilities, 3)
        if len(self.resize_range) != 2 or not 0 < self.resize_range[0] <= 1.0 <= self.resize_range[1]:
            raise ConfigError(f"resize_range must be [min <= 1, max >= 1], got {list(self.resize_range)}")
        _check_range("noise_sigma", self.noise_sigma)
        _check_range("poisson_scale", self.poisson_scale)
        _check_range("jpeg_quality", self.jpeg_quality, 1.0, 100.0)


def _second_stage() -> StageConfig:
    return StageConfig(
        blur_probability=0.8,
        blur=BlurConfig(sigma=(0.2, 1.5)),
        resize_probabilities=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2),
        noise_sigma=(1.0, 25.0),
        poisson_scale=(0.05, 2.5),
    )


@dataclass
class SecondOrderConfig(Config):
    """Real-ESRGAN's degradation settings; the defaults are ``train_realesrnet_x4plus.yml``."""

    first: StageConfig = field(default_factory=StageConfig)
    second: StageConfig = field(default_factory=_second_stage)  # its jpeg_quality is the final JPEG's
    final_sinc_probability: float = 0.8
    resize_modes: tuple[str, ...] = RESIZE_MODES

    def __post_init__(self) -> None:
        _check_range("final_sinc_probability", (self.final_sinc_probability,) * 2, 0.0, 1.0)
        unknown = [m for m in self.resize_modes if m not in RESIZE_MODES]
        if unknown or not self.resize_modes:
            raise ConfigError(f"resize_modes must be some of {', '.join(RESIZE_MODES)}, got {list(self.resize_modes)}")


# --------------------------------------------------------------------------- random draws
class _Draws:
    """Uniform draws and choices from one torch generator."""

    def __init__(self, generator: torch.Generator | None):
        self.generator = generator

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return low + (high - low) * float(torch.rand((), generator=self.generator, dtype=torch.float64))

    def chance(self, probability: float) -> bool:
        return self.uniform() < probability

    def index(self, weights: tuple[float, ...]) -> int:
        w = torch.tensor(weights, dtype=torch.float64)
        return int(torch.multinomial(w / w.sum(), 1, generator=self.generator))

    def odd(self, low: int, high: int) -> int:
        sides = list(range(low, high + 1, 2))
        return sides[self.index((1.0,) * len(sides))]


# --------------------------------------------------------------------------- kernels
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(r, r, indexing="xy")


def _mahalanobis(size: int, sigma_x: float, sigma_y: float, rotation: float) -> np.ndarray:
    """x^T S^-1 x on the kernel grid, S = R diag(sigma_x^2, sigma_y^2) R^T."""
    c, s = math.cos(rotation), math.sin(rotation)
    rot = np.array([[c, -s], [s, c]])
    inverse = np.linalg.inv(rot @ np.diag([sigma_x**2, sigma_y**2]) @ rot.T)
    x, y = _grid(size)
    xy = np.stack([x, y], axis=-1)
    return np.einsum("...i,ij,...j->...", xy, inverse, xy)


def blur_kernel(kind: str, size: int, sigma_x: float, sigma_y: float, rotation: float, beta: float) -> np.ndarray:
    """A normalized (size, size) kernel: Gaussian exp(-d/2), generalized exp(-d^beta/2) or plateau 1/(1+d^beta),
    with d the Mahalanobis distance of the rotated covariance (``basicsr.data.degradations``)."""
    d = _mahalanobis(size, sigma_x, sigma_y, rotation)
    if kind.startswith("generalized"):
        kernel = np.exp(-0.5 * np.power(d, beta))
    elif kind.startswith("plateau"):
        kernel = 1.0 / (1.0 + np.power(d, beta))
    else:
        kernel = np.exp(-0.5 * d)
    return kernel / kernel.sum()


def sinc_kernel(cutoff: float, size: int) -> np.ndarray:
    """The 2-D ideal circular low-pass (``circular_lowpass_kernel``): cutoff J1(cutoff r) / (2 pi r), normalized."""
    x, y = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[(size - 1) // 2, (size - 1) // 2] = cutoff**2 / (4 * np.pi)
    return kernel / kernel.sum()


def random_kernel(cfg: BlurConfig, draws: _Draws) -> np.ndarray:
    size = draws.odd(*cfg.size)
    if draws.chance(cfg.sinc_probability):
        lowest = math.pi / 3 if size < 13 else math.pi / 5
        return sinc_kernel(draws.uniform(lowest, math.pi), size)
    kind = cfg.kinds[draws.index(cfg.probabilities)]
    sigma_x = draws.uniform(*cfg.sigma)
    isotropic = kind.endswith("iso") and not kind.endswith("aniso")
    sigma_y, rotation = (sigma_x, 0.0) if isotropic else (draws.uniform(*cfg.sigma), draws.uniform(-math.pi, math.pi))
    beta = 1.0
    if kind != "iso" and kind != "aniso":
        low, high = cfg.beta_generalized if kind.startswith("generalized") else cfg.beta_plateau
        beta = draws.uniform(low, 1.0) if draws.chance(0.5) else draws.uniform(1.0, high)
    return blur_kernel(kind, size, sigma_x, sigma_y, rotation, beta)


def filter2d(image: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Convolve each channel of a (1, C, H, W) image with ``kernel``, borders reflected (replicated when the
    image is smaller than the kernel's half width)."""
    pad = kernel.shape[0] // 2
    mode = "reflect" if pad < min(image.shape[-2:]) else "replicate"
    weight = torch.from_numpy(kernel).to(image.dtype)[None, None].repeat(image.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(image, (pad, pad, pad, pad), mode=mode), weight, groups=image.shape[1])


# --------------------------------------------------------------------------- noise, resizing, JPEG
def _luma(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(GRAY, dtype=image.dtype).view(1, 3, 1, 1)
    return (image * weights).sum(1, keepdim=True)


def add_noise(image: torch.Tensor, stage: StageConfig, draws: _Draws) -> torch.Tensor:
    gray = draws.chance(stage.gray_noise_probability)
    if draws.chance(stage.gaussian_noise_probability):
        sigma = draws.uniform(*stage.noise_sigma) / 255.0
        shape = (1, 1, *image.shape[-2:]) if gray else image.shape
        noise = sigma * torch.randn(shape, generator=draws.generator, dtype=image.dtype)
    else:
        # Real-ESRGAN's Poisson noise: counts at 2^ceil(log2(distinct 8-bit values)) levels, scaled.
        scale = draws.uniform(*stage.poisson_scale)
        source = _luma(image) if gray else image
        source = torch.round(source.clamp(0, 1) * 255.0) / 255.0
        levels = 2.0 ** math.ceil(math.log2(max(len(torch.unique(source)), 2)))
        noise = scale * (torch.poisson(source * levels, generator=draws.generator) / levels - source)
    return (image + noise).clamp(0.0, 1.0)


def resize(image: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    size = (max(1, size[0]), max(1, size[1]))
    if mode == "area":
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode=mode, align_corners=False)


def jpeg(image: torch.Tensor, quality: float) -> torch.Tensor:
    """A Pillow JPEG round trip of a (1, 3, H, W) image at ``round(quality)``."""
    pixels = np.round(image[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(round(quality)))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        array = np.asarray(decoded.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None].to(image.dtype)


# --------------------------------------------------------------------------- the pipeline
class SecondOrderDegradation:
    """HR (B, 3, H, W) in [0, 1] -> LR (B, 3, H / scale, W / scale), 8-bit values, one random draw per image."""

    def __init__(self, config: SecondOrderConfig | None = None, scale: int = 4):
        self.config = config or SecondOrderConfig()
        self.scale = int(scale)

    def __call__(self, hr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        draws = _Draws(generator)
        with torch.no_grad():
            return torch.cat([self._one(image[None].float(), draws) for image in hr.cpu()])

    def _resize_randomly(self, image: torch.Tensor, stage: StageConfig, base: tuple[int, int], draws: _Draws):
        direction = draws.index(stage.resize_probabilities)
        factor = (draws.uniform(1.0, stage.resize_range[1]), draws.uniform(stage.resize_range[0], 1.0), 1.0)[direction]
        mode = self.config.resize_modes[draws.index((1.0,) * len(self.config.resize_modes))]
        return resize(image, (int(base[0] * factor), int(base[1] * factor)), mode)

    def _one(self, image: torch.Tensor, draws: _Draws) -> torch.Tensor:
        cfg = self.config
        height, width = image.shape[-2:]
        low = (height // self.scale, width // self.scale)
        out = image
        if draws.chance(cfg.first.blur_probability):
            out = filter2d(out, random_kernel(cfg.first.blur, draws))
        out = self._resize_randomly(out, cfg.first, (out.shape[-2], out.shape[-1]), draws)
        out = add_noise(out, cfg.first, draws)
        out = jpeg(out, draws.uniform(*cfg.first.jpeg_quality))

        if draws.chance(cfg.second.blur_probability):
            out = filter2d(out, random_kernel(cfg.second.blur, draws))
        out = self._resize_randomly(out, cfg.second, low, draws)
        out = add_noise(out, cfg.second, draws)

        sinc = (
            sinc_kernel(draws.uniform(math.pi / 3, math.pi), draws.odd(*cfg.second.blur.size))
            if draws.chance(cfg.final_sinc_probability)
            else None
        )
        mode = cfg.resize_modes[draws.index((1.0,) * len(cfg.resize_modes))]
        quality = draws.uniform(*cfg.second.jpeg_quality)
        jpeg_first = draws.chance(0.5)
        if jpeg_first:
            out = jpeg(out, quality)
        out = resize(out, low, mode)
        if sinc is not None:
            out = filter2d(out, sinc)
        if not jpeg_first:
            out = jpeg(out, quality)
        return torch.round(out.clamp(0.0, 1.0) * 255.0) / 255.0

"""A camera noise simulator: clean sRGB photos in, (clean, noisy) sRGB pairs out.

The photo is "unprocessed" into a raw Bayer mosaic, noise is added there, and both mosaics
are developed by the same camera pipeline:

    sRGB -> linear -> inverse colour correction -> inverse white balance -> RGGB mosaic
    -> shot + read noise (variance a*x + b per channel; not for the clean image)
    -> white balance -> demosaic (Menon et al. 2007, DDFAPD) -> colour correction -> sRGB gamma -> optional JPEG

The unprocessing steps follow Brooks et al., "Unprocessing Images for Learned Raw Denoising"
(CVPR 2019): the colour correction is built from a camera's XYZ->camera matrix and the
sRGB->XYZ matrix, rows normalised to 1 so that white stays white, and white-balance gains are
drawn from their published ranges (red 1.9-2.4, blue 1.5-1.9).

Noise coefficients are real per-ISO camera profiles from darktable's ``data/noiseprofiles.json``
(contributors named there). darktable fits var = a*x + b on white-balanced data in [0, 1], so
its red and blue fits include the white balance of the profiling shot; its own denoiser uses
the green fit scaled by the image's white balance (``src/iop/denoiseprofile.c``). We do the
same: the green fit is the raw variance at every photosite, and our white balance then scales
red and blue. Colour matrices are the Adobe DNG ColorMatrix (D65) values listed in dcraw's
``adobe_coeff`` table.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import colour_demosaicing
import numpy as np
from PIL import Image

from senmvae.errors import UserError

SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
RED_GAIN_RANGE = (1.9, 2.4)  # Brooks et al. 2019, random_gains
BLUE_GAIN_RANGE = (1.5, 1.9)
PATTERN = "RGGB"


@dataclass(frozen=True)
class CameraPreset:
    """A camera at one ISO: raw noise variance a*x + b per channel (R, G, B) and its colour matrix.

    ``xyz_to_camera``: the 3x3 XYZ->camera matrix, row-major, times 10000 (dcraw's convention).
    """

    name: str
    camera: str
    iso: int
    a: tuple[float, float, float]
    b: tuple[float, float, float]
    xyz_to_camera: tuple[int, ...]
    citation: str

    @property
    def camera_to_srgb(self) -> np.ndarray:
        return np.linalg.inv(srgb_to_camera_matrix(self.xyz_to_camera))


def _green_fit(a_green: float, b_green: float) -> dict:
    return {"a": (a_green,) * 3, "b": (b_green,) * 3}


# dcraw adobe_coeff: "Canon EOS M3", "Canon PowerShot S110", "Canon PowerShot G1 X".
_EOS_M3 = (6362, -823, -847, -4426, 12109, 2616, -743, 1857, 5635)
_S110 = (8039, -2643, -654, -3783, 11230, 2930, -206, 690, 4194)
_G1X = (7378, -1255, -1043, -4088, 12251, 2048, -876, 1946, 5805)
_DT = "darktable data/noiseprofiles.json, profile '{}' (green channel)"

PRESETS: dict[str, CameraPreset] = {
    p.name: p
    for p in (
        # "Canon EOS M3 contributed by Bernhard Stegmaier"
        CameraPreset("canon-eos-m3-iso800", "Canon EOS M3", 800, **_green_fit(2.51507748875233e-05, 8.79526686505371e-08),
                     xyz_to_camera=_EOS_M3, citation=_DT.format("EOS M3 iso 800")),
        CameraPreset("canon-eos-m3-iso3200", "Canon EOS M3", 3200, **_green_fit(0.000102272977903753, 3.82524167328936e-07),
                     xyz_to_camera=_EOS_M3, citation=_DT.format("EOS M3 iso 3200")),
        CameraPreset("canon-eos-m3-iso12800", "Canon EOS M3", 12800, **_green_fit(0.000317053680583586, 1.50364391522493e-06),
                     xyz_to_camera=_EOS_M3, citation=_DT.format("EOS M3 iso 12800")),
        # "powershot s110 contributed by andyrtr"
        CameraPreset("canon-powershot-s110-iso1600", "Canon PowerShot S110", 1600, **_green_fit(0.000209801722536844, 3.72503637596657e-07),
                     xyz_to_camera=_S110, citation=_DT.format("PowerShot S110 iso 1600")),
        CameraPreset("canon-powershot-s110-iso6400", "Canon PowerShot S110", 6400, **_green_fit(0.000883979817756333, 6.42206903652911e-06),
                     xyz_to_camera=_S110, citation=_DT.format("PowerShot S110 iso 6400")),
        # "powershot g1 x contributed by sven"
        CameraPreset("canon-powershot-g1x-iso3200", "Canon PowerShot G1 X", 3200, **_green_fit(8.99447650074106e-05, 4.90273756158638e-07),
                     xyz_to_camera=_G1X, citation=_DT.format("PowerShot G1 X iso 3200")),
    )
}  # fmt: skip


def preset(name: str) -> CameraPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown camera preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return np.where(image <= 0.0031308, image * 12.92, 1.055 * image ** (1 / 2.4) - 0.055)


def srgb_to_camera_matrix(xyz_to_camera: tuple[int, ...]) -> np.ndarray:
    """Linear sRGB -> camera RGB, rows normalised to sum to 1 (white maps to white)."""
    matrix = (np.asarray(xyz_to_camera, dtype=np.float64).reshape(3, 3) / 10000.0) @ SRGB_TO_XYZ
    return matrix / matrix.sum(axis=1, keepdims=True)


def channel_map(shape: tuple[int, int], values: tuple[float, float, float]) -> np.ndarray:
    """A per-photosite array holding ``values[c]`` where the Bayer mosaic samples channel c."""
    masks = colour_demosaicing.masks_CFA_Bayer(shape, PATTERN)
    return sum(mask * value for mask, value in zip(masks, values))


def shot_read_noise(
    mosaic: np.ndarray, a: tuple[float, float, float], b: tuple[float, float, float], rng: np.random.Generator
) -> np.ndarray:
    """Poisson shot noise of gain a plus Gaussian read noise of variance b: var = a*x + b per photosite."""
    a_map = channel_map(mosaic.shape, a)
    b_map = channel_map(mosaic.shape, b)
    signal = np.clip(mosaic, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        shot = np.where(a_map > 0, rng.poisson(np.where(a_map > 0, signal / a_map, 0.0)) * a_map, signal)
    return shot + rng.normal(size=mosaic.shape) * np.sqrt(b_map)


@dataclass(frozen=True)
class Development:
    """The per-image settings of the simulated camera."""

    preset: CameraPreset
    wb_gains: tuple[float, float, float]  # (red, 1, blue)
    jpeg_quality: int | None = None


def random_development(camera: CameraPreset, rng: np.random.Generator, jpeg_quality: int | None = None) -> Development:
    red = float(rng.uniform(*RED_GAIN_RANGE))
    blue = float(rng.uniform(*BLUE_GAIN_RANGE))
    return Development(camera, (red, 1.0, blue), jpeg_quality)


def unprocess(image: np.ndarray, development: Development) -> np.ndarray:
    """sRGB (H, W, 3) -> the raw RGGB mosaic (H, W) the camera would have recorded, in [0, 1]."""
    linear = srgb_to_linear(image.astype(np.float64))
    camera = np.clip(linear @ srgb_to_camera_matrix(development.preset.xyz_to_camera).T, 0.0, 1.0)
    return colour_demosaicing.mosaicing_CFA_Bayer(camera / np.asarray(development.wb_gains), PATTERN)


def develop(mosaic: np.ndarray, development: Development) -> np.ndarray:
    """The camera pipeline: raw mosaic -> float32 sRGB (H, W, 3) in [0, 1]."""
    balanced = np.clip(mosaic, 0.0, 1.0) * channel_map(mosaic.shape, development.wb_gains)
    camera = colour_demosaicing.demosaicing_CFA_Bayer_Menon2007(balanced, PATTERN)
    linear = camera @ development.preset.camera_to_srgb.T
    srgb = linear_to_srgb(linear).astype(np.float32)
    if development.jpeg_quality is not None:
        srgb = jpeg_roundtrip(srgb, development.jpeg_quality)
    return srgb


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as an 8-bit JPEG of ``quality`` in memory and decode again."""
    if not 1 <= quality <= 100:
        raise UserError(f"JPEG quality must be in 1..100, got {quality}")
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float32) / 255.0


def simulate_pair(
    image: np.ndarray, development: Development, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) sRGB images of ``image`` as the camera of ``development`` would record them.

    The clean image goes through the same pipeline without noise, so the two differ by the
    camera noise only (as developed: demosaiced, colour-corrected, gamma-encoded, compressed).
    """
    mosaic = unprocess(image, development)
    noisy_mosaic = shot_read_noise(mosaic, development.preset.a, development.preset.b, rng)
    return develop(mosaic, development), develop(noisy_mosaic, development)

"""A trained SeNM-VAE as a noise source: clean images in, realistic noisy images out.

:class:`NoiseModel` wraps a :class:`~senmvae.model.SeNMVAE` with the choices generation
needs: how each image's noise level is chosen (a :class:`LevelPolicy`), the temperature,
optional mean correction, and tiling for images of any size. Every image draws its level and
its latent noise from its own generator, so with per-image generators (see
:func:`~senmvae.generate.seeding.stream_generator`) an output depends only on that
generator, never on batch composition or tiling.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from senmvae.data.io import read_image
from senmvae.errors import UserError
from senmvae.generate.base import NoiseSource
from senmvae.generate.folders import images_in_folder
from senmvae.generate.latents import LatentField, field_supply
from senmvae.generate.levels import ChoiceLevel, FixedLevel, LevelPolicy, as_policy, level_of_sequence, measure_level
from senmvae.generate.tiling import check_tiling, pad_to_multiple, tile_weights
from senmvae.model.distributions import Generator, row_generators
from senmvae.model.io import load_model, resolve_model_path, trained_level
from senmvae.model.network import NOISE_PARTS, SeNMVAE
from senmvae.noise_level import noise_level

ImageLike = torch.Tensor | np.ndarray | Image.Image
LevelLike = LevelPolicy | str | float | Sequence[float] | torch.Tensor

SAMPLERS = ("paper", "content-exact")


RGB = 3
# How far a float image may stray outside [0, 1]: half an 8-bit step, for float rounding.
RANGE_SLACK = 0.5 / 255.0
INTEGER_SCALES = {"uint8": 255.0, "uint16": 65535.0}
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _scale_of(dtype: np.dtype | torch.dtype) -> float | None:
    """The full-scale value of an 8- or 16-bit integer dtype, None for a float dtype."""
    name = str(dtype).removeprefix("torch.")
    if name in INTEGER_SCALES:
        return INTEGER_SCALES[name]
    if name in FLOAT_DTYPES:
        return None
    raise UserError(
        f"images of dtype {name} are not accepted: pass uint8 (0-255), uint16 (0-65535) or floats in [0, 1]"
    )


def _check_layout(shape: tuple[int, ...], channels_last: bool) -> None:
    """One :class:`UserError` for each way ``shape`` can miss the layout of its kind."""
    kind, form = (
        ("numpy images", "(H, W, 3) or (B, H, W, 3)") if channels_last else ("tensors", "(3, H, W) or (B, 3, H, W)")
    )
    if len(shape) not in (3, 4):
        raise UserError(f"{kind} must be {form}, got shape {shape}")
    channels, other_end = (shape[-1], shape[-3]) if channels_last else (shape[-3], shape[-1])
    if channels != RGB and other_end == RGB:
        fix = (
            (".transpose(1, 2, 0)", ".transpose(0, 2, 3, 1)")
            if channels_last
            else (".permute(2, 0, 1)", ".permute(0, 3, 1, 2)")
        )
        order = "channels-first" if channels_last else "channels-last"
        raise UserError(f"{kind} must be {form}; shape {shape} is {order}: reorder it with {fix[len(shape) - 3]}")
    if channels != RGB:
        raise UserError(
            f"{kind} must be {form} RGB, got {channels} channel{'' if channels == 1 else 's'} in shape {shape}; "
            "repeat a grey channel "
            "three times, or drop an alpha channel"
        )
    if len(shape) == 4 and shape[0] == 0:
        raise UserError(f"got an empty batch of {kind} (shape {shape}); pass at least one image")
    height, width = shape[-3:-1] if channels_last else shape[-2:]
    if height == 0 or width == 0:
        raise UserError(f"got {kind} of {height}x{width} pixels (shape {shape}); pass images with pixels")


def _pil_array(image: Image.Image) -> np.ndarray:
    """A PIL image as an (H, W, 3) array at its own depth: 16-bit modes stay 16-bit, grey is repeated."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image)
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise UserError(
                f"a PIL image of mode {image.mode} with values outside 0-65535 has no known scale; "
                "pass a float array in [0, 1] instead"
            )
        array = array.astype(np.uint16)
    elif image.mode == "F":
        array = np.asarray(image)
    else:
        return np.asarray(image.convert("RGB"))
    return np.repeat(array[..., None], RGB, axis=2)


class _Batch:
    """A (B, 3, H, W) float tensor made from whatever the caller gave, and the way back.

    Integers are scaled from their full range (uint8 by 255, uint16 by 65535) and floats taken
    as they are, for tensors, arrays and PIL images alike. Values that are not finite are refused;
    with ``unit_range`` (clean images), floats outside [0, 1] are too.
    """

    def __init__(self, image: ImageLike, unit_range: bool = False):
        self.kind = type(image)
        self.device = None
        if isinstance(image, Image.Image):
            image = _pil_array(image)
            self.single = True
        if isinstance(image, np.ndarray):
            _check_layout(image.shape, channels_last=True)
            scale = _scale_of(image.dtype)
            self.single = image.ndim == 3
            array = np.ascontiguousarray(image, dtype=np.float32)
            tensor = torch.from_numpy(array / scale if scale else array)
            tensor = (tensor[None] if self.single else tensor).permute(0, 3, 1, 2)
        elif isinstance(image, torch.Tensor):
            _check_layout(tuple(image.shape), channels_last=False)
            scale = _scale_of(image.dtype)
            self.single = image.dim() == 3
            self.device = image.device
            tensor = (image[None] if self.single else image).float()
            tensor = tensor / scale if scale else tensor
        else:
            raise UserError(
                f"cannot make noise for a {type(image).__name__}; pass a torch tensor, numpy array or PIL image"
            )
        _check_values(tensor, unit_range and scale is None)
        self.tensor = tensor

    def restore(self, noisy: torch.Tensor) -> ImageLike:
        if issubclass(self.kind, torch.Tensor):
            noisy = noisy.to(self.device)
            return noisy[0] if self.single else noisy
        array = noisy.permute(0, 2, 3, 1).cpu().numpy()
        if issubclass(self.kind, Image.Image):
            return Image.fromarray(np.round(np.clip(array[0], 0.0, 1.0) * 255.0).astype(np.uint8))
        return array[0] if self.single else array


def _check_values(tensor: torch.Tensor, unit_range: bool) -> None:
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise UserError(
            f"the images hold {bad} NaN or infinite value{'s' if bad > 1 else ''}, which would make the "
            "whole output NaN; replace them (e.g. torch.nan_to_num or np.nan_to_num) or leave those images out"
        )
    if unit_range:
        low, high = float(tensor.min()), float(tensor.max())
        if low < -RANGE_SLACK or high > 1.0 + RANGE_SLACK:
            hint = " (8-bit values: divide by 255, or pass uint8)" if high > 1.0 + RANGE_SLACK else ""
            raise UserError(
                f"float clean images must hold intensities in [0, 1], got values from {low:.4g} to {high:.4g}"
                f"{hint}; clip values a resampling pushed out of range"
            )


def _cover(length: int, size: int) -> list[int]:
    """Starts of the fewest ``size`` windows covering ``length``, evenly spread."""
    count = math.ceil(length / size)
    return [i * (length - size) // max(count - 1, 1) for i in range(count)]


def level_scale(noisy: torch.Tensor, clean: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """The factor (B,) that brings each image's noise level (:func:`senmvae.noise_level.noise_level`)
    to ``level`` (B,); 1 for an image without any noise."""
    own = noise_level(noisy, clean)
    return torch.where(own > 0, level / own.clamp_min(torch.finfo(own.dtype).tiny), torch.ones_like(own))


def scaled(noise: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Each image of ``noise`` scaled by its ``factor`` about its own mean."""
    mean = noise.mean((1, 2, 3), keepdim=True)
    return mean + (noise - mean) * factor.view(-1, 1, 1, 1)


def _key(generator: torch.Generator | None) -> int:
    device = generator.device if generator is not None else "cpu"
    return int(torch.randint(0, 2**62, (), generator=generator, device=device))


class NoiseModel(NoiseSource):
    """SeNM-VAE generation: ``sample(clean)`` draws y ~ p(y | x) for each image.

    ``level``: how each image's noise level is chosen when ``sample`` is not given one: a
    :class:`LevelPolicy`, a number, or a :func:`~senmvae.generate.levels.parse_level` string
    ("0.03", "0.01:0.05", "0.01,0.02", "sidd"). ``temperature`` scales the std of every
    latent (1: the model's distribution; 0: every latent at its mean). ``mean_correction``
    gives each output channel the mean of the clean image's channel. Images larger than
    ``tile_size`` (after padding to the model's size multiple) are processed in tiles
    overlapping by ``tile_overlap`` pixels, so memory stays bounded by the tile size.
    ``channels_last`` (default: on CUDA, where it speeds up cuDNN convolutions) stores
    activations channels-last on CUDA; on CPU the network always computes channels-last.

    ``sampler``: ``"paper"`` (the authors' y ~ p(y|z, zn): the whole image is regenerated,
    so any content the decoder cannot reproduce shows up as noise) or ``"content-exact"``:
    the content latents at the mean of q(z|x), the noise is the decoder output with zn
    minus the decoder output from the same z without zn, its per-channel mean over the image
    is removed, and it is added to the real clean image. Content-exact assumes the noise is
    what zn adds on top of the content, i.e. that zn does not also correct content; see
    docs/generation.md for how that is measured.

    ``parts``: the sources of noise drawn, ``"zn"`` (the degradation latents) and ``"pixel"``
    (the pixel-noise head); one alone measures what it contributes (the component table).

    ``match_level``: scale each image's noise (noisy minus clean, the paper sampler's
    regenerated content included) so that its std over the whole image is exactly the asked level
    times the temperature, as the fitted Gaussians do. None (the default): on for a model trained
    on whole-image levels (``data.level=image``), whose noise follows where the level goes within
    an image but not its overall size exactly; off for a model conditioned on each crop's own
    level, the authors' way (docs/generation.md).

    Every random draw depends only on the generators, so outputs are reproducible; the
    arithmetic of fast convolution kernels (oneDNN on CPU, cuDNN) still varies with batch
    size and thread count in the last float bits (about 1e-6). ``exact`` removes that: each
    image runs alone through deterministic kernels on one CPU thread (on CPU about 3-6x
    slower), so results are bit-identical whatever the batch size, thread or process count.
    """

    name = "senmvae"

    def __init__(
        self,
        network: SeNMVAE,
        level: LevelPolicy | str | float = "sidd",
        temperature: float = 1.0,
        mean_correction: bool = False,
        tile_size: int = 512,
        tile_overlap: int = 64,
        device: str | torch.device | None = None,
        channels_last: bool | None = None,
        exact: bool = False,
        sampler: str = "paper",
        parts: Sequence[str] = NOISE_PARTS,
        match_level: bool | None = None,
    ):
        if sampler not in SAMPLERS:
            raise UserError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        self.sampler = sampler
        if not parts or set(parts) - set(NOISE_PARTS):
            raise UserError(f"parts must be some of {', '.join(NOISE_PARTS)}, got {list(parts)}")
        self.parts = tuple(parts)
        self.device = torch.device(device) if device is not None else next(network.parameters()).device
        self.network = network.to(self.device).eval()
        check_tiling(tile_size, tile_overlap, network.config.size_multiple)
        self.level = as_policy(level)
        self.temperature = float(temperature)
        self.mean_correction = bool(mean_correction)
        self.tile_size = int(tile_size)
        self.tile_overlap = int(tile_overlap)
        self.channels_last = self.device.type == "cuda" if channels_last is None else bool(channels_last)
        if self.channels_last:
            self.network.to(memory_format=torch.channels_last)
        self.exact = bool(exact)
        self.match_level = bool(match_level)
        self.source: str | None = None

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu", **options) -> NoiseModel:
        """Load a training run folder, a ``.safetensors`` model file, or an official ``.pth`` checkpoint.

        ``options`` are those of the constructor (``level``, ``temperature``, ``tile_size``...).
        """
        file = resolve_model_path(path)
        if options.get("match_level") is None:
            options["match_level"] = trained_level(file) == "image"
        model = cls(load_model(file, "cpu"), device=device, **options)
        model.source = str(file)
        return model

    @property
    def has_level_predictor(self) -> bool:
        return self.network.level_predictor is not None

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        clean: ImageLike,
        level: LevelLike | None = None,
        temperature: float | None = None,
        generator: Generator = None,
        mean_correction: bool | None = None,
    ) -> ImageLike:
        """Noisy versions of ``clean``, in the same form (tensor, numpy array or PIL image).

        ``clean``, RGB: a (B, 3, H, W) or (3, H, W) tensor, an (H, W, 3) or (B, H, W, 3) numpy
        array, or a PIL image (RGB, grey, palette, or 16-bit grey ``I;16``, read at 16 bits).
        Tensors and arrays are read alike by dtype: uint8 is divided by 255, uint16 by 65535,
        floats are taken as they are and must lie in [0, 1]; other dtypes are refused. A batch
        with no images, an image without pixels, another channel count or the other channel
        order (NHWC tensors, CHW arrays), and NaN or infinite values are each refused with a
        :class:`UserError` that says what to change.

        ``level``: one std, one per image, or a policy (None: the model's ``level``).
        ``generator``: one generator for the batch, or one per image (then each output depends
        on its generator alone). Tensors and arrays come back as float32, unclipped, without
        autograd history; PIL images as 8-bit RGB.
        """
        return self.sample_with_levels(clean, level, temperature, generator, mean_correction)[0]

    def sample_with_levels(
        self,
        clean: ImageLike,
        level: LevelLike | None = None,
        temperature: float | None = None,
        generator: Generator = None,
        mean_correction: bool | None = None,
    ) -> tuple[ImageLike, list[float]]:
        """:meth:`sample`, and the noise level each image was generated at."""
        batch = _Batch(clean, unit_range=True)
        keys, levels = self._draws(row_generators(generator, batch.tensor.shape[0]), level)
        noisy = self._generate(
            batch.tensor,
            levels,
            keys,
            self.temperature if temperature is None else float(temperature),
            self.mean_correction if mean_correction is None else bool(mean_correction),
        )
        return batch.restore(noisy), levels

    def stream_level(self, generator: torch.Generator | None, level: LevelLike | None = None) -> float:
        """The level :meth:`sample` would use for an image drawn from ``generator``
        (consuming the generator the same way), without generating anything."""
        return self._draws([generator], level)[1][0]

    def _draws(
        self, generators: list[torch.Generator | None], level: LevelLike | None
    ) -> tuple[list[int], list[float]]:
        """Each image's latent-noise key and noise level, drawn from its generator in that
        order, so that one stream gives the same noise pattern whatever the level policy."""
        if level is None or isinstance(level, (LevelPolicy, str)):
            policy = self.level if level is None else as_policy(level)
            given = None
        else:
            policy, given = None, level_of_sequence(level, len(generators))
        keys, levels = [], []
        for i, generator in enumerate(generators):
            keys.append(_key(generator))
            levels.append(policy.draw(generator) if given is None else given[i])
        return keys, levels

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        if not self.exact:
            with torch.inference_mode():
                yield
            return
        # oneDNN (CPU) and cuDNN pick kernels by batch size and thread count, which changes
        # results in the last bits; the native CPU kernels and deterministic cuDNN, one image
        # per pass, compute an image the same way whatever else is going on. (Assigning the
        # flag: mkldnn.flags() warns about TF32 on every entry.)
        # The BLAS behind the native kernels still splits its sums by thread count on some
        # CPUs (measured on AMD EPYC), so exact mode computes on one thread.
        onednn, threads = torch.backends.mkldnn.enabled, torch.get_num_threads()
        torch.backends.mkldnn.enabled = False
        torch.set_num_threads(1)
        try:
            with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
                yield
        finally:
            torch.backends.mkldnn.enabled = onednn
            torch.set_num_threads(threads)

    def _pass(
        self, clean: torch.Tensor, level: torch.Tensor, temperature: float, supply, parts: tuple[str, ...]
    ) -> torch.Tensor:
        if self.channels_last:
            clean = clean.contiguous(memory_format=torch.channels_last)
        return self.network.sample(
            clean, level, temperature, noise=supply, content_exact=self.sampler == "content-exact", parts=parts
        )

    def _generate(
        self, clean: torch.Tensor, levels: list[float], keys: list[int], temperature: float, mean_correction: bool
    ) -> torch.Tensor:
        with self._inference():
            x = clean.to(self.device, torch.float32)
            out = self._noisy(x, levels, keys, temperature, mean_correction, self.parts)
            if self.match_level and temperature > 0:
                # a part drawn alone (the component table) is scaled as the whole noise it belongs to is
                whole = out if self.parts == NOISE_PARTS else self._noisy(x, levels, keys, temperature, mean_correction)
                target = torch.tensor(levels, dtype=out.dtype, device=out.device) * temperature
                out = x + scaled(out - x, level_scale(whole, x, target))
        return out

    def _noisy(
        self,
        x: torch.Tensor,
        levels: list[float],
        keys: list[int],
        temperature: float,
        mean_correction: bool,
        parts: tuple[str, ...] = NOISE_PARTS,
    ) -> torch.Tensor:
        rows = x.shape[0]
        groups = [slice(i, i + 1) for i in range(rows)] if self.exact else [slice(0, rows)]
        padded = pad_to_multiple(x, self.network.config.size_multiple)
        out = torch.cat(
            [self._generate_rows(padded[group], levels[group], keys[group], temperature, parts) for group in groups]
        )
        out = out[..., : x.shape[-2], : x.shape[-1]].contiguous()
        if self.sampler == "content-exact":
            out = x + (out - out.mean((2, 3), keepdim=True))
        elif mean_correction:
            out = out - out.mean((2, 3), keepdim=True) + x.mean((2, 3), keepdim=True)
        return out

    def _generate_rows(
        self, padded: torch.Tensor, levels: list[float], keys: list[int], temperature: float, parts: tuple[str, ...]
    ) -> torch.Tensor:
        fields = [LatentField(k) for k in keys]
        level = torch.tensor(levels, dtype=torch.float32, device=self.device)
        height, width = padded.shape[-2:]
        tile, overlap, multiple = self.tile_size, self.tile_overlap, self.network.config.size_multiple
        if height <= tile and width <= tile:
            return self._pass(padded, level, temperature, field_supply(fields, 0, 0, height), parts)
        out = torch.zeros_like(padded)
        for top, weight_y in tile_weights(height, tile, overlap, multiple):
            for left, weight_x in tile_weights(width, tile, overlap, multiple):
                part = padded[..., top : top + len(weight_y), left : left + len(weight_x)]
                noisy = self._pass(part, level, temperature, field_supply(fields, top, left, part.shape[-2]), parts)
                weight = (weight_y[:, None] * weight_x[None, :]).to(self.device)
                out[..., top : top + len(weight_y), left : left + len(weight_x)] += noisy * weight
        return out

    # ------------------------------------------------------------------ levels from references
    def predict_level(self, noisy: ImageLike | str | Path, patch_size: int = 64) -> float:
        """The level predictor's estimate for one noisy image: the mean of its predictions on
        ``patch_size`` crops that cover the image, spread evenly (the predictor was trained on
        small crops); a side shorter than ``patch_size`` is taken whole."""
        self._require_predictor()
        image = _Batch(read_image(noisy) if isinstance(noisy, (str, Path)) else noisy).tensor
        if image.shape[0] != 1:
            raise UserError(f"predict_level takes one image, got a batch of {image.shape[0]}")
        height, width = image.shape[-2:]
        size_y, size_x = min(patch_size, height), min(patch_size, width)
        patches = [
            image[0, :, top : top + size_y, left : left + size_x]
            for top in _cover(height, size_y)
            for left in _cover(width, size_x)
        ]
        predictions = []
        with self._inference():
            for start in range(0, len(patches), 256):
                chunk = torch.stack(patches[start : start + 256]).to(self.device)
                predictions.append(self.network.predict_level(chunk).float().cpu())
        # An untrained or poorly trained predictor can go below zero; a std cannot.
        return max(0.0, float(torch.cat(predictions).mean()))

    def _require_predictor(self) -> None:
        if not self.has_level_predictor:
            where = f" ({self.source})" if self.source else ""
            raise UserError(
                f"this model{where} has no noise-level predictor (official checkpoints do not include one), "
                "so levels cannot be predicted from noisy images; give the level explicitly (e.g. --level 0.03), "
                "or measure it from a reference pair (--level-from-pair NOISY CLEAN)"
            )

    def level_of_noisy(self, noisy: ImageLike | str | Path) -> FixedLevel:
        """The level of a reference noisy image as predicted from it alone."""
        return FixedLevel(self.predict_level(noisy))

    @staticmethod
    def level_of_pair(noisy: ImageLike | str | Path, clean: ImageLike | str | Path) -> FixedLevel:
        """The level of a reference noisy image measured against its clean partner."""
        noisy_t, clean_t = (_Batch(read_image(p) if isinstance(p, (str, Path)) else p).tensor for p in (noisy, clean))
        return FixedLevel(measure_level(noisy_t, clean_t))

    def levels_of_folder(self, folder: str | Path) -> ChoiceLevel:
        """The predicted level of every image of a target (noisy) folder; each output draws one."""
        self._require_predictor()
        images = images_in_folder(folder, "target")
        values = tuple(self.predict_level(ref.load()) for ref in images)
        return ChoiceLevel(values, origin=f"predicted from {len(images)} images of {folder}")

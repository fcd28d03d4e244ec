"""A SIMULATED real-world super-resolution set, in the AIM 2019 track 2 layout, from clean photos.

The real challenge sets (AIM 2019 track 2, NTIRE 2020 track 1) cannot be downloaded here, so
this builds a stand-in with the same structure from clean photos (the photos bundled with
installed packages, plus any folders given) through a degradation the SR benchmark's models
are never told about:

    HR photo (cut to a multiple of the scale)
    -> Gaussian blur (sigma drawn per photo, in HR pixels), keep every scale-th pixel
       (aliased, slightly shifted: not the bicubic downsampler B)
    -> the camera simulator of :mod:`senmvae.data.simulate` (raw shot + read noise of a real
       camera profile, demosaicing, colour pipeline), profiles the shipped ``base`` model never saw
    -> JPEG (quality drawn per photo)

Like the challenges, the photos are split three ways and no photo is in two parts:
``Corrupted-tr-y/`` clean HR photos (the source domain), ``Corrupted-tr-x/`` degraded LR
images of other photos (the target domain), and ``Corrupted-va-x/`` + ``DIV2K_valid_HR/``
validation pairs (degraded LR, its HR). ``simulation.json`` records every photo's draw and
``README.txt`` says that the set is simulated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from senmvae.atomic import write_text_atomic
from senmvae.data.embedded import DEMO_PRESETS, PHOTOS, _photo, cache_root
from senmvae.data.io import read_image, write_image
from senmvae.data.layouts.sr import TRAIN_CLEAN, TRAIN_DEGRADED, VALID_DEGRADED
from senmvae.data.refs import bicubic_downsample
from senmvae.data.simulate import preset, random_development, simulate_pair
from senmvae.data.simulated import photo_files
from senmvae.errors import UserError
from senmvae.noise_level import noise_level_of_arrays
from senmvae.progress import progress_bar

VERSION = 1  # bump when the recipe changes, so caches are rebuilt
VALID_HR = "DIV2K_valid_HR"  # the AIM 2019 name of the validation HR folder
RECORD = "simulation.json"
NOTICE = (
    "SIMULATED real-world super-resolution set (senmvae.data.simulated_sr), in the AIM 2019 track 2 layout.\n"
    "Not AIM 2019 or NTIRE 2020 data: the degraded images were made from clean photos by a blur + decimation,\n"
    "a camera noise simulator and JPEG (see simulation.json). Numbers on it are not comparable to published ones.\n"
)


@dataclass(frozen=True)
class SimulatedSRRecipe:
    scale: int = 4
    blur_sigma: tuple[float, float] = (1.0, 2.0)  # Gaussian blur before decimation, HR pixels
    presets: tuple[str, ...] = DEMO_PRESETS  # camera noise profiles (none seen by the shipped base model)
    iso_factors: tuple[float, float] = (0.5, 2.0)  # noise gain, log-uniform
    jpeg_quality: tuple[int, int] = (60, 85)
    validation: int = 100  # photos that become validation pairs (at most a third of the photos, at least 2)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in self.presets:
            preset(name)
        if self.scale < 2 or not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise UserError("the simulated SR set needs scale >= 2 and a blur sigma range 0 < low <= high")
        if not 0 < self.iso_factors[0] <= self.iso_factors[1]:
            raise UserError(f"iso factors must satisfy 0 < low <= high, got {self.iso_factors}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100 or self.validation < 2:
            raise UserError("jpeg quality must lie within 1..100 and validation must be at least 2 photos")


def degrade(hr: np.ndarray, recipe: SimulatedSRRecipe, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The simulated real LR image of one HR photo (sides multiples of the scale), and the draw."""
    sigma = float(rng.uniform(*recipe.blur_sigma))
    blurred = ndimage.gaussian_filter(hr.astype(np.float64), sigma=(sigma, sigma, 0), mode="reflect")
    offset = (recipe.scale - 1) // 2
    low = np.clip(blurred[offset :: recipe.scale, offset :: recipe.scale], 0.0, 1.0).astype(np.float32)
    camera = preset(recipe.presets[int(rng.integers(len(recipe.presets)))])
    factor = float(math.exp(rng.uniform(math.log(recipe.iso_factors[0]), math.log(recipe.iso_factors[1]))))
    camera = replace(camera, a=tuple(a * factor for a in camera.a), b=tuple(b * factor**2 for b in camera.b))
    quality = int(rng.integers(recipe.jpeg_quality[0], recipe.jpeg_quality[1] + 1))
    development = random_development(camera, rng, jpeg_quality=quality)
    _, degraded = simulate_pair(low, development, rng)
    draw = {"blur_sigma": round(sigma, 4), "preset": camera.name, "iso_factor": round(factor, 4), "jpeg": quality}
    return degraded, draw


def _photos(sources: Sequence[str | Path], bundled: bool) -> list[tuple[str, Path | tuple[str, str]]]:
    """(name, where) of the bundled photos (with ``bundled``) and of every image under ``sources``."""
    photos: list[tuple[str, Path | tuple[str, str]]] = [
        (f"bundled_{photo}", (package, inner)) for photo, _, package, inner in (PHOTOS if bundled else ())
    ]
    for source in sources:
        root = Path(source)
        for path in photo_files(root):
            stem = path.relative_to(root).with_suffix("").as_posix().replace("/", "_")
            photos.append((f"{root.name}_{stem}", path))
    return photos


def build_simulated_sr(
    sources: Sequence[str | Path],
    out: str | Path,
    recipe: SimulatedSRRecipe | None = None,
    bundled: bool = True,
    progress: bool = True,
) -> Path:
    """Write the simulated set of the photos under ``sources`` (and the bundled ones) into ``out``; returns ``out``."""
    recipe = recipe or SimulatedSRRecipe()
    out = Path(out)
    photos = _photos(sources, bundled)
    if len(photos) < 4:
        raise UserError(
            f"the simulated SR set needs at least 4 photos (2 validation, 1 source, 1 target), got {len(photos)}"
        )
    order = np.random.default_rng(recipe.seed).permutation(len(photos))
    validation = min(recipe.validation, max(2, len(photos) // 3))
    record: dict[str, dict] = {}
    for rank, index in enumerate(progress_bar(order, desc="simulating the SR set", unit="photo", disable=not progress)):
        name, where = photos[index]
        hr = _photo(*where) if isinstance(where, tuple) else read_image(where)
        hr = hr[: hr.shape[0] // recipe.scale * recipe.scale, : hr.shape[1] // recipe.scale * recipe.scale]
        part = "validation" if rank < validation else ("source" if (rank - validation) % 2 == 0 else "target")
        entry = {"photo": str(where if isinstance(where, Path) else "/".join(where)), "part": part}
        if part != "source":
            rng = np.random.default_rng([recipe.seed, zlib.crc32(name.encode())])
            degraded, draw = degrade(hr, recipe, rng)
            write_image(out / (VALID_DEGRADED if part == "validation" else TRAIN_DEGRADED) / f"{name}.png", degraded)
            entry |= draw
        if part != "target":
            write_image(out / (VALID_HR if part == "validation" else TRAIN_CLEAN) / f"{name}.png", hr)
        if part == "validation":
            level = noise_level_of_arrays(degraded, bicubic_downsample(hr, recipe.scale))
            entry["level_8bit"] = round(level * 255, 3)  # std of LR - B(HR): what SeNM-VAE is conditioned on
        record[name] = entry
    (out / "README.txt").write_text(NOTICE)
    document = {"recipe": asdict(recipe), "version": VERSION, "sources": [str(s) for s in sources], "photos": record}
    write_text_atomic(out / RECORD, json.dumps(document, indent=1) + "\n")
    return out


def is_simulated_sr(root: str | Path) -> bool:
    """Whether ``root`` is a set built by :func:`build_simulated_sr`."""
    readme = Path(root) / "README.txt"
    return (Path(root) / RECORD).is_file() and readme.is_file() and readme.read_text() == NOTICE


def simulated_sr_path(sources: Sequence[str | Path] = (), recipe: SimulatedSRRecipe | None = None) -> Path:
    """The cached simulated SR set of the bundled photos plus ``sources`` (built on first use)."""
    recipe = recipe or SimulatedSRRecipe()
    resolved = sorted(str(Path(s).expanduser().resolve()) for s in sources)
    key = hashlib.sha256(json.dumps([resolved, asdict(recipe), VERSION]).encode()).hexdigest()[:12]
    final = cache_root() / f"sr-simulated-v{VERSION}-{key}"
    if (final / RECORD).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".sr-simulated-v{VERSION}-", dir=final.parent))
    try:
        build_simulated_sr(resolved, work, recipe)
        try:
            os.replace(work, final)
        except OSError:
            if not (final / RECORD).is_file():  # not a concurrent build that won the race
                raise UserError(f"{final}: exists but holds no {RECORD}; delete it and run again") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final

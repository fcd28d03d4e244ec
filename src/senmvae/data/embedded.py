"""The embedded default dataset: exists on any machine after install, with no download.

Clean photos bundled with installed packages (scikit-image's sample data and matplotlib's
``grace_hopper.jpg``) are scaled to a short side of 256 px, passed through the camera
simulator of :mod:`senmvae.data.simulate` (one camera preset per scene), and cut into
128 x 128 tiles. A seeded scene-grouped split (6 pairs, 2 held-out validation scenes, the
rest halved into source and target) is written as ``manifest.json`` beside the images, so
``load_spec("default")`` and ``load_spec(default_dataset_path())`` both give the split.

Created once under ``$SENMVAE_CACHE`` (default ``~/.cache/senmvae``) and reused; deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from senmvae.data.io import read_image, write_image
from senmvae.data.layouts.folders import read_paired_folders
from senmvae.data.manifest import write_manifest
from senmvae.data.refs import resize
from senmvae.data.simulate import PRESETS, random_development, simulate_pair
from senmvae.data.split import build_split
from senmvae.errors import UserError
from senmvae.noise_level import noise_level_of_arrays

VERSION = 2  # bump when the recipe changes, so caches are rebuilt
SEED = 2024
SHORT_SIDE = 256
DEMO_PRESETS = ("canon-powershot-s110-iso6400", "canon-eos-m3-iso12800", "canon-powershot-s110-iso1600")
TILE = 128
PAIRED = 6
VALIDATION_FRACTION = 0.25

# (photo, scene, package, file inside the package)
PHOTOS = (
    ("astronaut", "astronaut", "skimage", "data/astronaut.png"),
    ("chelsea", "chelsea", "skimage", "data/chelsea.png"),
    ("coffee", "coffee", "skimage", "data/coffee.png"),
    ("rocket", "rocket", "skimage", "data/rocket.jpg"),
    ("motorcycle-left", "motorcycle", "skimage", "data/motorcycle_left.png"),
    ("motorcycle-right", "motorcycle", "skimage", "data/motorcycle_right.png"),
    ("immunohistochemistry", "immunohistochemistry", "skimage", "data/ihc.png"),
    ("grace-hopper", "grace-hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
)


def cache_root() -> Path:
    return Path(os.environ.get("SENMVAE_CACHE") or Path.home() / ".cache" / "senmvae").expanduser()


def default_dataset_path() -> Path:
    """The folder of the embedded dataset, created on first use (a few seconds)."""
    final = cache_root() / f"default-v{VERSION}"
    if (final / "manifest.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".default-v{VERSION}-", dir=final.parent))
    try:
        _build(work)
        try:
            os.replace(work, final)
        except OSError:
            if not (final / "manifest.json").is_file():  # not a concurrent build that won the race
                raise UserError(f"{final}: exists but holds no manifest.json; delete it and run again") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _photo(package: str, inner: str) -> np.ndarray:
    with resources.as_file(resources.files(package).joinpath(inner)) as path:
        if not path.is_file():
            raise UserError(
                f"{path}: sample photo missing from the installed {package}; reinstall it "
                f"(pip install --force-reinstall {'scikit-image' if package == 'skimage' else package})"
            )
        return read_image(path)


def _build(root: Path) -> None:
    # High-ISO profiles only, so the noise is clearly visible and a denoiser has something to learn.
    presets = [PRESETS[name] for name in DEMO_PRESETS]
    scenes = sorted({scene for _, scene, _, _ in PHOTOS})
    record = {}
    for photo, scene, package, inner in PHOTOS:
        image = _photo(package, inner)
        h, w = image.shape[:2]
        factor = SHORT_SIDE / min(h, w)
        image = resize(image, (round(w * factor), round(h * factor)), Image.LANCZOS)
        rng = np.random.default_rng([SEED, zlib.crc32(photo.encode())])
        development = random_development(presets[scenes.index(scene) % len(presets)], rng)
        clean, noisy = simulate_pair(image, development, rng)
        for row in range(clean.shape[0] // TILE):
            for col in range(clean.shape[1] // TILE):
                window = np.s_[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
                name = f"{scene}/{photo}_{row}_{col}.png"
                write_image(root / "clean" / name, clean[window])
                write_image(root / "noisy" / name, noisy[window])
        record[photo] = {
            "scene": scene,
            "photo": f"{package}/{inner}",
            "preset": development.preset.name,
            "noise_citation": development.preset.citation,
            "wb_gains": development.wb_gains,
            "noise_std_8bit": round(noise_level_of_arrays(noisy, clean) * 255, 3),
        }
    collection = read_paired_folders(root, "default")
    split = build_split(collection, PAIRED, seed=SEED, validation=VALIDATION_FRACTION)
    write_manifest(
        root / "manifest.json",
        split.dataset,
        source_spec="embedded: bundled sample photos through the camera noise simulator",
        seed=SEED,
        paired_count=PAIRED,
        scenes=split.scenes,
        options={"validation": VALIDATION_FRACTION, "group_by": "scene", "order": "random", "version": VERSION},
    )
    (root / "simulation.json").write_text(json.dumps(record, indent=1) + "\n")

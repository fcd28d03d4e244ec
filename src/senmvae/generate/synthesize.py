"""A folder of clean images becomes a folder of noisy ones: deterministic, resumable, shardable.

Output ``k`` of the image named ``sub/stem`` (its path in the input folder without suffix)
is ``OUT/sub/stem.png`` (``OUT/sub/stem_s{k}.png`` when there are several per image), drawn
from the stream of (seed, name, k) alone. Files are written atomically, so a file that
exists is complete and a rerun skips it. Process ``rank`` of ``world_size`` (as set by
torchrun) takes images ``rank, rank + world_size, ...``. Each process records its entries
in ``OUT/.synthesize/``; whichever finishes last merges them into ``OUT/pairs.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from senmvae.data.io import read_image, write_image
from senmvae.data.refs import FileImage
from senmvae.errors import UserError
from senmvae.generate.folders import images_in_folder
from senmvae.generate.levels import LevelPolicy
from senmvae.generate.noise_model import NoiseModel
from senmvae.generate.seeding import stream_generator, stream_seed

MANIFEST = "pairs.json"
STATE_DIR = ".synthesize"
MANIFEST_FORMAT = "senmvae-pairs"


@dataclass(frozen=True)
class Shard:
    """This process's share of the inputs."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_environment(cls) -> Shard:
        """The shard torchrun assigns through RANK and WORLD_SIZE (the whole input otherwise)."""
        shard = cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
        if not 0 <= shard.rank < shard.world_size:
            raise UserError(f"RANK={shard.rank} is outside WORLD_SIZE={shard.world_size}; launch with torchrun")
        return shard


@dataclass(frozen=True)
class Job:
    index: int  # position of the image in the input folder
    image: FileImage
    sample_index: int
    output: Path


@dataclass
class SynthesisResult:
    written: int
    skipped: int
    manifest: Path | None  # None until every process of the run has finished


def output_name(name: str, sample_index: int, samples_per_image: int) -> str:
    return f"{name}.png" if samples_per_image == 1 else f"{name}_s{sample_index}.png"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _check_settings(state: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to mix outputs of different settings in one folder (unless overwriting)."""
    file = state / "settings.json"
    if file.is_file() and not overwrite:
        previous = json.loads(file.read_text())
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            detail = "; ".join(f"{k}: {previous.get(k)!r} then, {settings.get(k)!r} now" for k in changed)
            raise UserError(
                f"{state.parent} holds outputs made with other settings ({detail}); "
                "use another output folder, or --overwrite to replace them"
            )
    _write_json(file, settings)


def _batches(jobs: list[Job], batch_size: int) -> Iterator[tuple[list[Job], np.ndarray]]:
    """Jobs grouped into batches of equal image size, each image read once."""
    pending: list[Job] = []
    arrays: list[np.ndarray] = []
    loaded: tuple[int, np.ndarray] | None = None
    for job in jobs:
        if loaded is None or loaded[0] != job.index:
            loaded = (job.index, read_image(job.image.path))
        if pending and (len(pending) == batch_size or arrays[0].shape != loaded[1].shape):
            yield pending, np.stack(arrays)
            pending, arrays = [], []
        pending.append(job)
        arrays.append(loaded[1])
    if pending:
        yield pending, np.stack(arrays)


def synthesize_folder(
    model: NoiseModel,
    input_dir: str | Path,
    output_dir: str | Path,
    *,
    level: LevelPolicy | None = None,
    seed: int = 0,
    samples_per_image: int = 1,
    batch_size: int = 1,
    bits: int = 8,
    overwrite: bool = False,
    shard: Shard = Shard(),
    progress: bool = True,
) -> SynthesisResult:
    """Write ``samples_per_image`` noisy versions of every image of ``input_dir`` to ``output_dir``.

    ``level``: the level policy (None: the model's). The model's temperature, mean
    correction and tiling apply. Returns the counts of files written and already present.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if samples_per_image < 1 or batch_size < 1:
        raise UserError(f"samples per image and batch size must be positive, got {samples_per_image}, {batch_size}")
    if bits not in (8, 16):
        raise UserError(f"output bit depth must be 8 or 16, got {bits}")
    images = images_in_folder(input_dir, "input")
    if output_dir.resolve() == input_dir.resolve() or input_dir.resolve() in output_dir.resolve().parents:
        raise UserError(f"output folder {output_dir} is inside the input folder {input_dir}; choose another place")
    policy = level if level is not None else model.level
    settings = {
        "input": str(input_dir.resolve()),
        "inputs_sha256": hashlib.sha256("\n".join(ref.name for ref in images).encode()).hexdigest(),
        "model": str(Path(model.source).resolve()) if model.source else None,
        "model_sha256": _sha256(Path(model.source)) if model.source else None,
        "level": policy.describe(),
        "temperature": model.temperature,
        "mean_correction": model.mean_correction,
        "tile_size": model.tile_size,
        "tile_overlap": model.tile_overlap,
        "seed": seed,
        "samples_per_image": samples_per_image,
        "bits": bits,
    }
    state = output_dir / STATE_DIR
    _check_settings(state, settings, overwrite)

    mine = [(i, ref) for i, ref in enumerate(images) if i % shard.world_size == shard.rank]
    jobs = [
        Job(i, ref, k, output_dir / output_name(ref.name, k, samples_per_image))
        for i, ref in mine
        for k in range(samples_per_image)
    ]
    entries = []
    for job in jobs:
        level_value = model.stream_level(stream_generator(seed, job.image.name, job.sample_index), policy)
        entries.append(
            {
                "index": job.index,
                "name": job.image.name,
                "clean": _relative(job.image.path, output_dir),
                "noisy": _relative(job.output, output_dir),
                "level": level_value,
                "seed": seed,
                "sample_index": job.sample_index,
                "stream_seed": stream_seed(seed, job.image.name, job.sample_index),
            }
        )
    todo = jobs if overwrite else [job for job in jobs if not job.output.is_file()]
    bar = tqdm(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        unit="image",
        desc="synthesize",
        disable=not progress or shard.rank != 0,
    )
    with bar:
        for batch, clean in _batches(todo, batch_size):
            generators = [stream_generator(seed, job.image.name, job.sample_index) for job in batch]
            noisy = model.sample(clean, level=policy, generator=generators)
            for job, image in zip(batch, noisy):
                write_image(job.output, image, bits=bits)
            bar.update(len(batch))

    part = {"settings": settings, "entries": entries}
    _write_json(state / f"part-{shard.rank}-of-{shard.world_size}.json", part)
    manifest = _merge_parts(state, output_dir, settings, shard.world_size)
    return SynthesisResult(written=len(todo), skipped=len(jobs) - len(todo), manifest=manifest)


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _merge_parts(state: Path, output_dir: Path, settings: dict, world_size: int) -> Path | None:
    """Write ``pairs.json`` once every process's part for these settings is there.

    Any process may do it, and two doing it at once write the same content.
    """
    entries = []
    for rank in range(world_size):
        file = state / f"part-{rank}-of-{world_size}.json"
        try:
            part = json.loads(file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if part.get("settings") != settings:
            return None
        entries += part["entries"]
    entries.sort(key=lambda e: (e["index"], e["sample_index"]))
    manifest = output_dir / MANIFEST
    _write_json(
        manifest,
        {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "paths": "relative to the folder of this file",
            "settings": settings,
            "pairs": [{k: v for k, v in e.items() if k != "index"} for e in entries],
        },
    )
    return manifest

"""A folder of clean images becomes a folder of noisy ones: deterministic, resumable, shardable.

Output ``k`` of the image named ``sub/stem`` (its path in the input folder without suffix)
is ``OUT/sub/stem.png`` (``OUT/sub/stem_s{k}.png`` when there are several per image), drawn
from the stream of (seed, name, k) alone. Files are written atomically, so a file that
exists is complete and a rerun skips it. Process ``rank`` of ``world_size`` (as set by
torchrun) takes images ``rank, rank + world_size, ...``. Each process records its entries
in ``OUT/.synthesize/``; whichever finishes last merges them into ``OUT/pairs.json``.

An input that cannot be read is skipped with a message and left out of the manifest; the
others go on. The settings recorded for the folder are the generation settings, not the list
of inputs, so a rerun after inputs were added, fixed or removed keeps every finished output.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from senmvae.atomic import write_text_atomic
from senmvae.data.io import ImageReadError, read_image, write_image
from senmvae.data.refs import FileImage
from senmvae.errors import UserError
from senmvae.generate.folders import images_in_folder
from senmvae.generate.levels import LevelPolicy
from senmvae.generate.noise_model import NoiseModel
from senmvae.generate.seeding import stream_generator, stream_seed
from senmvae.progress import progress_bar

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
    skipped: int  # outputs that were there already
    manifest: Path | None  # None until every process of the run has finished
    unreadable: list[Path] = field(default_factory=list)  # inputs left out, each reported when met


def output_name(name: str, sample_index: int, samples_per_image: int) -> str:
    return f"{name}.png" if samples_per_image == 1 else f"{name}_s{sample_index}.png"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1) + "\n", per_process=True)


def _tell(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _check_settings(state: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to mix outputs of different settings in one folder (unless overwriting)."""
    file = state / "settings.json"
    if file.is_file() and not overwrite:
        previous = _previous_settings(file, state.parent)
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            detail = "; ".join(f"{k}: {previous.get(k)!r} then, {settings.get(k)!r} now" for k in changed)
            raise UserError(
                f"{state.parent} holds outputs made with other settings ({detail}); "
                "use another output folder, or --overwrite to replace them"
            )
    _write_json(file, settings)


def _previous_settings(file: Path, output_dir: Path) -> dict:
    try:
        previous = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        previous = err
    if not isinstance(previous, dict):
        raise UserError(
            f"{file} is empty or damaged, so the settings of the outputs already in {output_dir} are unknown; "
            f"delete {file} to start the folder over (outputs already there are kept and taken as made with "
            "the settings of the next run), rerun with --overwrite to regenerate them all, or choose another --output"
        )
    previous.pop("inputs_sha256", None)  # folders written when the settings covered the list of inputs
    return previous


def _batches(
    jobs: list[Job], batch_size: int, unreadable: Callable[[Job, ImageReadError], None]
) -> Iterator[tuple[list[Job], np.ndarray]]:
    """Jobs grouped into batches of equal image size, each image read once; the jobs of an image
    that cannot be read go to ``unreadable`` (once per image) instead."""
    pending: list[Job] = []
    arrays: list[np.ndarray] = []
    loaded: tuple[int, np.ndarray | None] | None = None
    for job in jobs:
        if loaded is None or loaded[0] != job.index:
            loaded = (job.index, _read_input(job, unreadable))
        if loaded[1] is None:
            continue
        if pending and (len(pending) == batch_size or arrays[0].shape != loaded[1].shape):
            yield pending, np.stack(arrays)
            pending, arrays = [], []
        pending.append(job)
        arrays.append(loaded[1])
    if pending:
        yield pending, np.stack(arrays)


def _read_input(job: Job, unreadable: Callable[[Job, ImageReadError], None]) -> np.ndarray | None:
    try:
        return read_image(job.image.path)
    except ImageReadError as err:
        unreadable(job, err)
        return None


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
    warn: Callable[[str], None] = _tell,
) -> SynthesisResult:
    """Write ``samples_per_image`` noisy versions of every image of ``input_dir`` to ``output_dir``.

    ``level``: the level policy (None: the model's). The model's temperature, mean
    correction and tiling apply. Inputs that cannot be read are skipped, each with a line to
    ``warn``. Returns the counts of files written and already present, and the skipped inputs.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if samples_per_image < 1 or batch_size < 1:
        raise UserError(f"samples per image and batch size must be positive, got {samples_per_image}, {batch_size}")
    if bits not in (8, 16):
        raise UserError(f"output bit depth must be 8 or 16, got {bits}")
    images = images_in_folder(input_dir, "input", warn)
    if output_dir.resolve() == input_dir.resolve() or input_dir.resolve() in output_dir.resolve().parents:
        raise UserError(f"output folder {output_dir} is inside the input folder {input_dir}; choose another place")
    policy = level if level is not None else model.level
    # Each output is a function of (seed, name, sample index, settings) alone, so the list of
    # inputs is no setting: a rerun with inputs added or removed keeps the finished outputs.
    settings = {
        "input": str(input_dir.resolve()),
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
        **_sampler_setting(model),
    }
    inputs_sha256 = hashlib.sha256("\n".join(ref.name for ref in images).encode()).hexdigest()
    state = output_dir / STATE_DIR
    _check_settings(state, settings, overwrite)

    mine = [(i, ref) for i, ref in enumerate(images) if i % shard.world_size == shard.rank]
    jobs = [
        Job(i, ref, k, output_dir / output_name(ref.name, k, samples_per_image))
        for i, ref in mine
        for k in range(samples_per_image)
    ]
    todo = jobs if overwrite else [job for job in jobs if not job.output.is_file()]
    bar = progress_bar(
        total=len(jobs),
        initial=len(jobs) - len(todo),
        unit="image",
        desc="synthesize",
        disable=not progress or shard.rank != 0,
    )
    unreadable: dict[int, Path] = {}

    def skip(job: Job, err: ImageReadError) -> None:
        unreadable[job.index] = job.image.path
        bar.update(sum(other.index == job.index for other in todo))
        warn(f"skipped {' '.join(str(err).split())}")

    with bar:
        for batch, clean in _batches(todo, batch_size, skip):
            generators = [stream_generator(seed, job.image.name, job.sample_index) for job in batch]
            noisy = model.sample(clean, level=policy, generator=generators)
            for job, image in zip(batch, noisy):
                if not np.isfinite(np.asarray(image)).all():
                    raise UserError(
                        f"{job.image.path}: the model gave non-finite values (NaN or inf) for this image, so "
                        "nothing was written for it; its weights are likely from too early in training or "
                        "diverged: use a later checkpoint. Images already written are kept; rerun to continue"
                    )
                write_image(job.output, image, bits=bits)
            bar.update(len(batch))

    missing = {job.output for job in todo if job.index in unreadable}
    entries = [_entry(model, policy, seed, job, output_dir) for job in jobs if job.output not in missing]
    part = {"settings": settings, "inputs_sha256": inputs_sha256, "entries": entries}
    _write_json(state / f"part-{shard.rank}-of-{shard.world_size}.json", part)
    manifest = _merge_parts(state, output_dir, part, shard.world_size)
    return SynthesisResult(len(todo) - len(missing), len(jobs) - len(todo), manifest, list(unreadable.values()))


def _sampler_setting(model: NoiseModel) -> dict:
    """The model's sampler when it is not the default (folders written before samplers existed stay valid)."""
    sampler = getattr(model, "sampler", "paper")
    return {} if sampler == "paper" else {"sampler": sampler}


def _entry(model: NoiseModel, policy: LevelPolicy, seed: int, job: Job, output_dir: Path) -> dict:
    level_value = model.stream_level(stream_generator(seed, job.image.name, job.sample_index), policy)
    return {
        "index": job.index,
        "name": job.image.name,
        "clean": _relative(job.image.path, output_dir),
        "noisy": _relative(job.output, output_dir),
        "level": level_value,
        "seed": seed,
        "sample_index": job.sample_index,
        "stream_seed": stream_seed(seed, job.image.name, job.sample_index),
    }


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _merge_parts(state: Path, output_dir: Path, mine: dict, world_size: int) -> Path | None:
    """Write ``pairs.json`` once every process's part for these settings and inputs is there.

    Any process may do it, and two doing it at once write the same content.
    """
    settings = mine["settings"]
    entries = []
    for rank in range(world_size):
        file = state / f"part-{rank}-of-{world_size}.json"
        try:
            part = json.loads(file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if part.get("settings") != settings or part.get("inputs_sha256") != mine["inputs_sha256"]:
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

"""A folder of clean images becomes a folder of noisy ones: deterministic, resumable, shardable.

Output ``k`` of the image named ``sub/stem`` (its path in the input folder without suffix)
is ``OUT/sub/stem.png`` (``OUT/sub/stem_s{k}.png`` when there are several per image), drawn
from the stream of (seed, name, k) alone. Process ``rank`` of ``world_size`` (as set by
torchrun) takes images ``rank, rank + world_size, ...``. Each process records its entries
in ``OUT/.synthesize/``; whichever finishes last merges them into ``OUT/pairs.json``.

One run at a time owns the folder, and only outputs this tool recorded writing, with the
present settings and unchanged since, count as finished (:mod:`senmvae.generate.ownership`);
a rerun makes the others again, and refuses files at output places that it never wrote.

An input that cannot be used (unreadable, or pixels that are not finite or far outside
[0, 1]) is skipped with a message and left out of the manifest; the others go on. The
settings recorded for the folder are the generation settings, not the list of inputs, so a
rerun after inputs were added, fixed or removed keeps every finished output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from senmvae.atomic import write_text_atomic
from senmvae.data.io import ImageInfo, ImageReadError, read_image_with_info, write_image
from senmvae.data.refs import FileImage
from senmvae.data.validate import ALPHA_MODES, GRAY_MODES
from senmvae.errors import UserError
from senmvae.generate.folders import images_in_folder
from senmvae.generate.levels import LevelPolicy
from senmvae.generate.noise_model import NoiseModel
from senmvae.generate.ownership import STATE_DIR, Records, file_sha256, owning, run_identity, settings_digest
from senmvae.generate.seeding import stream_generator, stream_seed
from senmvae.model.io import read_metadata
from senmvae.pretrained import PRETRAINED, model_card
from senmvae.progress import progress_bar

MANIFEST = "pairs.json"
SETTINGS_FILE = "settings.json"
MANIFEST_FORMAT = "senmvae-pairs"
# Without a recorded training range, levels above this get a warning: a std of 25 in 8-bit
# units is beyond the noise of the camera datasets (SIDD, PolyU, DND) the paper trains on.
UNRECORDED_LEVEL_BOUND = 0.1


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


def write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1) + "\n", per_process=True)


def _tell(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _check_settings(state: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to mix outputs of different settings in one folder (unless overwriting)."""
    file = state / SETTINGS_FILE
    if file.is_file() and not overwrite:
        previous = _previous_settings(file, state.parent)
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            detail = "; ".join(f"{k}: {previous.get(k)!r} then, {settings.get(k)!r} now" for k in changed)
            raise UserError(
                f"{state.parent} holds outputs made with other settings ({detail}); "
                "use another output folder, or --overwrite to replace them"
            )


def _previous_settings(file: Path, output_dir: Path) -> dict:
    try:
        previous = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        previous = err
    if not isinstance(previous, dict):
        raise UserError(
            f"{file} is empty or damaged, so the settings of the outputs already in {output_dir} are unknown; "
            f"delete {file} to start the folder over (outputs recorded as made with the settings of the next run "
            "are kept, the others made again), rerun with --overwrite to regenerate them all, or choose another "
            "--output"
        )
    previous.pop("inputs_sha256", None)  # folders written when the settings covered the list of inputs
    previous.setdefault("sampler", "paper")  # folders written when only the paper sampler existed
    previous.setdefault("match_level", False)  # folders written before the level could be matched
    return previous


def _outstanding(
    jobs: list[Job], records: dict[str, set], digest: str, output_dir: Path, overwrite: bool
) -> tuple[list[Job], list[Path]]:
    """The jobs to do, and the existing outputs among them that this tool wrote but that are not
    finished outputs of these settings (so are made again). Refuses outputs it never wrote."""
    if overwrite:
        return list(jobs), []
    todo, remade, foreign = [], [], []
    for job in jobs:
        if not job.output.is_file():
            todo.append(job)
            continue
        recorded = records.get(_relative(job.output, output_dir))
        if not recorded:
            foreign.append(job.output)
        elif (digest, file_sha256(job.output)) not in recorded:
            todo.append(job)
            remade.append(job.output)
    if foreign:
        raise UserError(
            f"{output_dir} holds {len(foreign)} file{'s' if len(foreign) > 1 else ''} where outputs go that this "
            f"tool did not write (no record of {'them' if len(foreign) > 1 else 'it'} in {output_dir / STATE_DIR}): "
            f"{_some(foreign)}. They are not taken as finished outputs: move them out of {output_dir} or choose "
            "another --output, or rerun with --overwrite to replace them"
        )
    return todo, remade


def _some(paths: list[Path], shown: int = 5) -> str:
    listed = ", ".join(str(p) for p in paths[:shown])
    return listed + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def _batches(
    jobs: list[Job], batch_size: int, unusable: Callable[[Job, ImageReadError], None], read: Callable
) -> Iterator[tuple[list[Job], np.ndarray]]:
    """Jobs grouped into batches of equal image size, each image read once; the jobs of an image
    that cannot be used go to ``unusable`` (once per image) instead."""
    pending: list[Job] = []
    arrays: list[np.ndarray] = []
    loaded: tuple[int, np.ndarray | None] | None = None
    for job in jobs:
        if loaded is None or loaded[0] != job.index:
            loaded = (job.index, _read_input(job, unusable, read))
        if loaded[1] is None:
            continue
        if pending and (len(pending) == batch_size or arrays[0].shape != loaded[1].shape):
            yield pending, np.stack(arrays)
            pending, arrays = [], []
        pending.append(job)
        arrays.append(loaded[1])
    if pending:
        yield pending, np.stack(arrays)


def _read_input(job: Job, unusable: Callable[[Job, ImageReadError], None], read: Callable) -> np.ndarray | None:
    try:
        return read(job.image.path)
    except ImageReadError as err:
        unusable(job, err)
        return None


class _Conversions:
    """Inputs read with a conversion (grey to RGB, alpha dropped, 16 bits to 8), told once per kind."""

    def __init__(self, bits: int):
        self.bits = bits
        self.kinds: dict[str, list[Path]] = {}

    def read(self, path: Path) -> np.ndarray:
        image, info = read_image_with_info(path)
        for kind in self._kinds(info):
            self.kinds.setdefault(kind, []).append(path)
        return image

    def _kinds(self, info: ImageInfo) -> list[str]:
        kinds = []
        if info.mode in GRAY_MODES:
            kinds.append("grey")
        if info.mode in ALPHA_MODES:
            kinds.append("alpha")
        if info.bit_depth > self.bits:
            kinds.append("depth")
        return kinds

    def messages(self) -> list[str]:
        lines = []
        for kind, paths in self.kinds.items():
            one = len(paths) == 1
            what = {
                "grey": f"{'was' if one else 'were'} grayscale: read as RGB with the grey value in all three "
                "channels, so the outputs carry colour noise on a grey image",
                "alpha": f"{'has' if one else 'have'} an alpha channel: it is dropped (the outputs are RGB, "
                "without transparency)",
                "depth": f"{'has' if one else 'have'} more than {self.bits} bits per channel: the outputs are "
                f"{self.bits}-bit PNGs" + ("; --bits 16 keeps more of the depth" if self.bits == 8 else ""),
            }[kind]
            lines.append(f"{len(paths)} input{'' if one else 's'} {what} ({_some(paths, 3)})")
        return lines


def trained_level_range(model: NoiseModel) -> tuple[str, float, float] | None:
    """The shipped model ``model`` is, and the noise levels its model card records it was trained
    on (a ``| trained levels | LOW-HIGH ...`` row); None for other models, which record none."""
    if not model.source or Path(model.source).suffix != ".safetensors":
        return None
    name = read_metadata(model.source).get("pretrained")
    if name not in PRETRAINED:
        return None
    found = re.search(r"^\| trained levels \| ([0-9.]+)-([0-9.]+)", model_card(name), re.MULTILINE)
    return (name, float(found[1]), float(found[2])) if found else None


def level_warning(model: NoiseModel, levels: list[float]) -> str | None:
    """A warning when some of ``levels`` lie outside the levels ``model`` was trained on (above
    :data:`UNRECORDED_LEVEL_BOUND` when it records none), else None."""
    known = trained_level_range(model)
    low, high = known[1:] if known else (0.0, UNRECORDED_LEVEL_BOUND)
    outside = [v for v in levels if not low <= v <= high]
    if not outside:
        return None
    count = f"{len(outside)} of {len(levels)} outputs" if len(outside) < len(levels) else f"all {len(levels)} outputs"
    got = f"{min(outside):.4g}" + (f" to {max(outside):.4g}" if max(outside) != min(outside) else "")
    if known:
        name = known[0]
        where = f"outside {low:g}-{high:g}, the noise levels {name} was trained on (its card: senmvae models {name})"
    else:
        where = (
            f"above {high:g} ({high * 255:.1f} in 8-bit units); {model.source or 'this model'} records no range of "
            "training levels, and camera noise datasets rarely reach that"
        )
    return (
        f"{count} get noise levels {where}: {got}. Noise at levels a model never saw is extrapolated "
        "(and at high levels much of it is clipped); choose levels inside the range, or train on such noise"
    )


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

    ``level``: the level policy (None: the model's). The model's sampler, temperature, mean
    correction and tiling apply. Inputs that cannot be used are skipped, each with a line to
    ``warn``; so are conversions of inputs (one line per kind) and levels outside those the
    model was trained on. Another run writing into ``output_dir``, or files there at output
    places that this tool did not write, are refused (UserError). Returns the counts of files
    written and already present, and the skipped inputs.
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
        "model_sha256": file_sha256(Path(model.source)) if model.source else None,
        "sampler": model.sampler,
        "level": policy.describe(),
        "temperature": model.temperature,
        "mean_correction": model.mean_correction,
        "match_level": model.match_level,
        "tile_size": model.tile_size,
        "tile_overlap": model.tile_overlap,
        "seed": seed,
        "samples_per_image": samples_per_image,
        "bits": bits,
    }
    inputs_sha256 = hashlib.sha256("\n".join(ref.name for ref in images).encode()).hexdigest()
    state = output_dir / STATE_DIR
    mine = [(i, ref) for i, ref in enumerate(images) if i % shard.world_size == shard.rank]
    jobs = [
        Job(i, ref, k, output_dir / output_name(ref.name, k, samples_per_image))
        for i, ref in mine
        for k in range(samples_per_image)
    ]

    def level_of(job: Job) -> float:
        return model.stream_level(stream_generator(seed, job.image.name, job.sample_index), policy)

    levels = {(job.index, job.sample_index): level_of(job) for job in jobs}
    with owning(output_dir, run_identity(shard.world_size)):
        _check_settings(state, settings, overwrite)
        outputs = _Outputs(state, settings, Records(state, shard.rank, shard.world_size), bits)
        todo, remade = _outstanding(jobs, outputs.records.read(), outputs.digest, output_dir, overwrite)
        if remade:
            warn(
                f"{len(remade)} output{'s' if len(remade) > 1 else ''} already in {output_dir} "
                f"{'are' if len(remade) > 1 else 'is'} not what this tool recorded writing with these settings "
                f"(emptied, damaged or changed since, or made with other settings) and will be made again: "
                f"{_some(remade)}"
            )
        if message := level_warning(model, [levels[job.index, job.sample_index] for job in todo]):
            warn(message)
        bar = progress_bar(
            total=len(jobs),
            initial=len(jobs) - len(todo),
            unit="image",
            desc="synthesize",
            disable=not progress or shard.rank != 0,
        )
        unusable: dict[int, Path] = {}
        conversions = _Conversions(bits)

        def skip(job: Job, err: ImageReadError) -> None:
            unusable[job.index] = job.image.path
            bar.update(sum(other.index == job.index for other in todo))
            warn(f"skipped {' '.join(str(err).split())}")

        with bar:
            for batch, clean in _batches(todo, batch_size, skip, conversions.read):
                generators = [stream_generator(seed, job.image.name, job.sample_index) for job in batch]
                noisy = model.sample(clean, level=policy, generator=generators)
                for job, image in zip(batch, noisy):
                    if not np.isfinite(np.asarray(image)).all():
                        raise UserError(
                            f"{job.image.path}: the model gave non-finite values (NaN or inf) for this image, so "
                            "nothing was written for it; its weights are likely from too early in training or "
                            "diverged: use a later checkpoint. Images already written are kept; rerun to continue"
                        )
                    outputs.write(job.output, image)
                bar.update(len(batch))
        for message in conversions.messages():
            warn(message)

        missing = {job.output for job in todo if job.index in unusable}
        entries = [
            _entry(seed, job, levels[job.index, job.sample_index], output_dir)
            for job in jobs
            if job.output not in missing
        ]
        if entries:
            outputs.record_settings()
        part = {"settings": settings, "inputs_sha256": inputs_sha256, "entries": entries}
        write_json(state / f"part-{shard.rank}-of-{shard.world_size}.json", part)
        manifest = _merge_parts(state, output_dir, part, shard.world_size)
    return SynthesisResult(len(todo) - len(missing), len(jobs) - len(todo), manifest, list(unusable.values()))


class _Outputs:
    """Writes the outputs of one run, each recorded before and after it is written, and the
    folder's settings before the first of them."""

    def __init__(self, state: Path, settings: dict, records: Records, bits: int):
        self.state, self.settings, self.records, self.bits = state, settings, records, bits
        self.digest = settings_digest(settings)
        self.settings_recorded = False

    def record_settings(self) -> None:
        """Written only once an output of these settings exists, so that a run that fails before
        writing any leaves nothing that refuses the next run."""
        if self.settings_recorded:
            return
        file = self.state / SETTINGS_FILE
        try:
            current = json.loads(file.read_text())
        except (OSError, ValueError):
            current = None
        if current != self.settings:
            write_json(file, self.settings)
        self.settings_recorded = True

    def write(self, path: Path, image: np.ndarray) -> None:
        self.record_settings()
        name = _relative(path, self.state.parent)
        self.records.add(name, self.digest)
        write_image(path, image, bits=self.bits)
        self.records.add(name, self.digest, file_sha256(path))


def _entry(seed: int, job: Job, level: float, output_dir: Path) -> dict:
    return {
        "index": job.index,
        "name": job.image.name,
        "clean": _relative(job.image.path, output_dir),
        "noisy": _relative(job.output, output_dir),
        "level": level,
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
    write_json(
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

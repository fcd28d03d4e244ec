"""Cutting large images into patches once, before training (the paper cuts 300 random 256 x 256
patches from each SIDD-Medium image), resumably.

Patches go to ``OUT/paired/{clean,noisy}/``, ``OUT/source/`` and ``OUT/target/`` as PNG (8-bit
for 8-bit sources, else 16-bit); ``OUT/manifest.json`` lists them with their image's scene, so
a split of the patches still keeps scenes apart. Validation pairs are carried over uncut.
Progress is appended to ``OUT/progress.jsonl`` after every image: a run that is interrupted
continues where it stopped, and the positions of each image's patches depend only on the seed
and the image's name, so the result is the same either way.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.io import write_image
from senmvae.data.manifest import write_manifest
from senmvae.data.refs import FileImage, ImageRef, Pair, pair_from_entry, ref_from_entry
from senmvae.data.spec import MANIFEST_NAME
from senmvae.data.validate import validate
from senmvae.errors import UserError
from senmvae.progress import progress_bar

PROGRESS_NAME = "progress.jsonl"


@dataclass(frozen=True)
class PatchOptions:
    patch: int = 256
    per_image: int = 300
    seed: int = 0

    def as_dict(self) -> dict:
        return {"patch": self.patch, "per_image": self.per_image, "seed": self.seed}


def patch_positions(height: int, width: int, options: PatchOptions, name: str) -> list[tuple[int, int]]:
    """Distinct top-left corners, drawn from a generator seeded by (seed, name)."""
    rows, cols = height - options.patch + 1, width - options.patch + 1
    count = min(options.per_image, rows * cols)
    rng = np.random.default_rng([options.seed, zlib.crc32(name.encode())])
    flat = rng.choice(rows * cols, size=count, replace=False)
    return [(int(i // cols), int(i % cols)) for i in flat]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "__"))


def _read_progress(path: Path, options: PatchOptions) -> dict[str, list[dict]]:
    """Entries already written, by item name; refuses a folder prepared with other options."""
    if not path.is_file():
        return {}
    lines = path.read_text().splitlines()
    header = json.loads(lines[0]) if lines else {}
    if header.get("options") != options.as_dict():
        raise UserError(
            f"{path.parent} was prepared with {header.get('options')}, not {options.as_dict()}; "
            "use another output folder or delete this one"
        )
    done = {}
    for line in lines[1:]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break  # the line being written when the run was stopped
        done[record["item"]] = record["entries"]
    return done


def prepare_patches(
    dataset: SemiSupervisedSet,
    out: str | Path,
    options: PatchOptions = PatchOptions(),
    *,
    source_spec: str = "",
    progress: bool = True,
) -> Path:
    """Cut every training image of ``dataset`` into patches under ``out``; returns the manifest path."""
    if options.patch < 1 or options.per_image < 1:
        raise UserError(f"patch size and patches per image must be positive, got {options.patch}, {options.per_image}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress_path = out / PROGRESS_NAME
    done = _read_progress(progress_path, options)
    if not progress_path.is_file():
        progress_path.write_text(json.dumps({"options": options.as_dict(), "source_spec": source_spec}) + "\n")
    usable = validate(dataset, options.patch, strict=True, progress=progress).dataset
    items = [("paired", p) for p in usable.paired] + [("source", r) for r in usable.source]
    items += [("target", r) for r in usable.target]
    result = SemiSupervisedSet(validation=usable.validation)
    where = str(progress_path)
    with (
        progress_path.open("a") as log,
        progress_bar(items, desc="cutting patches", unit="img", disable=not progress) as bar,
    ):
        for domain, item in bar:
            entries = done.get(item.name)
            if entries is None:
                entries = _cut(item, domain, out, options)
                log.write(json.dumps({"item": item.name, "entries": entries}) + "\n")
                log.flush()
            if domain == "paired":
                result.paired += [pair_from_entry(e, out, where) for e in entries]
            else:
                getattr(result, domain).extend(ref_from_entry(e, out, where) for e in entries)
    return write_manifest(
        out / MANIFEST_NAME,
        result,
        source_spec=source_spec,
        seed=options.seed,
        options={"prepared": options.as_dict()},
    )


def _cut(item: Pair | ImageRef, domain: str, out: Path, options: PatchOptions) -> list[dict]:
    if isinstance(item, Pair):
        sides = [(item.clean, out / "paired" / "clean"), (item.noisy, out / "paired" / "noisy")]
    else:
        sides = [(item, out / domain)]
    loaded = [ref.load_with_info() for ref, _ in sides]
    h, w = loaded[0][0].shape[:2]
    refs_per_side: list[list[FileImage]] = [[] for _ in sides]
    for k, (top, left) in enumerate(patch_positions(h, w, options, item.name)):
        for (ref, folder), (image, info), refs in zip(sides, loaded, refs_per_side):
            path = write_image(
                folder / f"{_safe(item.name)}_p{k:03d}.png",
                image[top : top + options.patch, left : left + options.patch],
                bits=8 if info.bit_depth == 8 else 16,
            )
            refs.append(FileImage(f"{ref.name}#p{k:03d}", item.scene, path))
    if isinstance(item, Pair):
        return [
            Pair(f"{item.name}#p{k:03d}", item.scene, clean_ref, noisy_ref).to_entry(out)
            for k, (clean_ref, noisy_ref) in enumerate(zip(*refs_per_side))
        ]
    return [ref.to_entry(out) for ref in refs_per_side[0]]

"""``load_spec``: from a SPEC (a dataset folder, a YAML spec, a split manifest or ``default``) to a
:class:`SemiSupervisedSet`.

A folder's layout is detected (see :data:`LAYOUTS`). Detected layouts put every pair they hold
in ``paired`` and noisy-only images in ``target``; only a split manifest or a YAML spec fills
``validation``. A YAML spec names the domains (docs/data.md has the format)::

    paired: [../shared/data/polyu]
    source:
      - ../shared/data/clean/Kodak24                 # a plain folder: its images
    target:
      - {path: /data/dnd}                            # noisy-only layout
    validation:
      - {path: /data/sidd_blocks}

An entry under ``source`` takes a layout's source images, or else the clean side of its
pairs; under ``target`` its target images, or else the noisy side of its pairs; under
``paired`` its pairs; under ``validation`` its validation pairs, or else its pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from senmvae.config import Config, ConfigError
from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.io import is_image_file
from senmvae.data.layouts import dnd, folders, polyu, sidd, sr
from senmvae.errors import UserError

MANIFEST_NAME = "manifest.json"


def _is_manifest_folder(root: Path) -> bool:
    return (root / MANIFEST_NAME).is_file()


def _read_manifest_folder(root: Path, label: str) -> SemiSupervisedSet:
    from senmvae.data.manifest import read_manifest

    return read_manifest(root / MANIFEST_NAME).dataset


# Detection order matters: a manifest beside clean/ and noisy/ folders describes them better.
LAYOUTS: dict[str, tuple[Callable[[Path], bool], Callable[..., SemiSupervisedSet]]] = {
    "manifest": (_is_manifest_folder, _read_manifest_folder),
    "polyu": (polyu.detect, polyu.read),
    "sidd-medium": (sidd.detect_medium, sidd.read_medium),
    "sidd-blocks": (sidd.detect_blocks, sidd.read_blocks),
    "dnd": (dnd.detect, dnd.read),
    "sr": (sr.detect, sr.read),
    "pairs": (folders.is_paired_folders, folders.read_paired_folders),
}
SPEC_HELP = (
    "give a dataset folder (PolyU, SIDD-Medium, SIDD .mat blocks, DND, AIM19/NTIRE20 SR, or clean/ + noisy/ "
    "subfolders), a YAML spec, a split manifest (.json) or 'default'; see docs/data.md"
)


def detect_layout(root: Path) -> str | None:
    """The name of the first layout in :data:`LAYOUTS` that ``root`` matches."""
    if not root.is_dir():
        return None
    return next((name for name, (detect, _) in LAYOUTS.items() if detect(root)), None)


def load_spec(spec: str | Path) -> SemiSupervisedSet:
    """The dataset a SPEC names; raises :class:`UserError` when the SPEC itself cannot be read.

    Problems with individual files are collected in ``problems`` for :func:`validate`.
    """
    if str(spec) == "default":
        from senmvae.data.embedded import default_dataset_path

        spec = default_dataset_path()
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"{spec}: no such file or folder; {SPEC_HELP}")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            return _load_yaml(path)
        if suffix == ".json":
            from senmvae.data.manifest import read_manifest

            return read_manifest(path).dataset
        if suffix == ".mat" and path.stem in sidd.BLOCK_FILES:
            return sidd.read_blocks(path.parent, path.parent.name)
        raise UserError(f"{path}: not a dataset spec; {SPEC_HELP}")
    layout = detect_layout(path)
    if layout is None:
        raise UserError(_unknown_folder_message(path))
    return LAYOUTS[layout][1](path, path.name)


def _unknown_folder_message(root: Path) -> str:
    has_images = any(is_image_file(p) for p in root.rglob("*") if p.is_file())
    if not has_images:
        return f"{root}: holds no images and no known dataset layout; {SPEC_HELP}"
    return (
        f"{root}: holds images but no known layout. For pairs put the clean images in {root}/clean and "
        f"the noisy ones in {root}/noisy (same names); for unpaired images name the folder under "
        "'source' or 'target' in a YAML spec (docs/data.md)"
    )


@dataclass
class SpecEntry(Config):
    """One entry of a YAML spec: a path and how to read it.

    ``layout``: ``auto`` (detect), ``folder`` (plain folder of images, for source/target), or
    one of :data:`LAYOUTS`. ``clean``/``noisy``: subfolder names of a ``pairs`` layout.
    ``scale``: downsampling factor of an ``sr`` layout. ``limit``: keep only the first N items
    (in name order).
    """

    path: str = ""
    layout: str = "auto"
    clean: str = "clean"
    noisy: str = "noisy"
    scale: int = 4
    limit: int | None = None


@dataclass
class SpecFile(Config):
    paired: tuple[SpecEntry, ...] = ()
    source: tuple[SpecEntry, ...] = ()
    target: tuple[SpecEntry, ...] = ()
    validation: tuple[SpecEntry, ...] = ()


def _normalise_entries(value: object, domain: str, where: Path) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    entries = []
    for item in items:
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: '{domain}' entries must be paths or mappings with a 'path', got {item!r}")
        entries.append(item)
    return entries


def _load_yaml(path: Path) -> SemiSupervisedSet:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a dataset spec is a mapping with keys paired, source, target, validation")
    try:
        spec = SpecFile.from_dict({key: _normalise_entries(value, key, path) for key, value in raw.items()})
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    result = SemiSupervisedSet(origin=f"{path} (YAML spec)")
    labels: dict[Path, str] = {}
    for domain in ("paired", "source", "target", "validation"):
        for entry in getattr(spec, domain):
            if not entry.path:
                raise ConfigError(f"{path}: an entry under '{domain}' has no 'path'")
            entry_path = (path.parent / Path(entry.path).expanduser()).resolve()
            label = labels.setdefault(entry_path, _unique_label(entry_path.name, labels.values()))
            _take(result, domain, _read_entry(entry_path, entry, label, domain, path), entry.limit)
    result.problems += _name_clashes(result)
    return result


def _unique_label(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    label, k = name, 2
    while label in taken:
        label, k = f"{name}-{k}", k + 1
    return label


def _read_entry(root: Path, entry: SpecEntry, label: str, domain: str, spec_path: Path) -> SemiSupervisedSet:
    if not root.exists():
        raise UserError(f"{spec_path}: '{domain}' entry {entry.path}: no such file or folder")
    if root.is_file():
        return load_spec(root)
    layout = detect_layout(root) if entry.layout == "auto" else entry.layout
    if layout is None and domain in ("source", "target"):
        layout = "folder"
    if layout == "folder":
        images, problems = folders.read_single_folder(root, label)
        return SemiSupervisedSet(
            source=images if domain == "source" else [],
            target=images if domain == "target" else [],
            origin=str(root),
            problems=problems,
        )
    if layout is None:
        raise UserError(f"{spec_path}: '{domain}' entry {entry.path}: {_unknown_folder_message(root)}")
    if layout not in LAYOUTS:
        raise ConfigError(
            f"{spec_path}: '{domain}' entry {entry.path}: unknown layout {layout!r}; "
            f"choose auto, folder, {', '.join(LAYOUTS)}"
        )
    options = {"pairs": {"clean": entry.clean, "noisy": entry.noisy}, "sr": {"scale": entry.scale}}.get(layout, {})
    return LAYOUTS[layout][1](root, label, **options)


def _take(result: SemiSupervisedSet, domain: str, found: SemiSupervisedSet, limit: int | None) -> None:
    """Add what ``found`` offers for ``domain`` to ``result`` (see the module docstring)."""
    if domain == "paired":
        items = found.paired
    elif domain == "source":
        items = found.source or [pair.clean for pair in found.paired]
    elif domain == "target":
        items = found.target or [pair.noisy for pair in found.paired]
    else:
        items = found.validation or found.paired
    if not items:
        result.problems.append(
            Problem(found.origin, f"offers nothing for the '{domain}' domain; check the entry", Action.REFUSE)
        )
    getattr(result, domain).extend(items[:limit] if limit is not None else items)
    result.problems += found.problems


def _name_clashes(dataset: SemiSupervisedSet) -> list[Problem]:
    seen: dict[str, str] = {}
    clashes = []
    for ref in dataset.refs():
        if seen.setdefault(ref.name, ref.location) != ref.location:
            clashes.append(
                Problem(ref.location, f"has the same name {ref.name!r} as {seen[ref.name]}; rename one", Action.REFUSE)
            )
    return clashes

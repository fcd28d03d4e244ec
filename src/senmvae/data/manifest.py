"""Split manifests: a JSON file naming every image of each domain, so a split is reproducible and
inspectable. Training, ``data prepare`` and the benchmark read it through ``load_spec``.

Format (version 1; paths are relative to the manifest's folder)::

    {
      "format": "senmvae-split", "version": 1,
      "source_spec": "../shared/data/polyu",       # what the split was made from
      "seed": 0, "paired_count": 10,
      "options": {...},                            # the split's other settings
      "scenes": {"paired": [...], "source": [...], "target": [...], "validation": [...], "dropped": [...]},
      "domains": {
        "paired": [{"name", "scene", "clean": ENTRY, "noisy": ENTRY}, ...],
        "source": [ENTRY, ...], "target": [ENTRY, ...],
        "validation": [{"name", "scene", "clean": ENTRY, "noisy": ENTRY}, ...]
      }
    }

ENTRY is ``{"name", "scene", "kind", "path", ...}`` with kind ``file``, ``mat-block``
(+ ``variable``, ``index``), ``dnd-box`` (+ ``box``) or ``bicubic`` (+ ``scale``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from senmvae.atomic import write_text_atomic
from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.refs import pair_from_entry, ref_from_entry
from senmvae.errors import UserError

FORMAT = "senmvae-split"
VERSION = 1


@dataclass
class Manifest:
    dataset: SemiSupervisedSet
    source_spec: str
    seed: int | None = None
    paired_count: int | None = None
    scenes: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def write_manifest(
    path: str | Path,
    dataset: SemiSupervisedSet,
    *,
    source_spec: str,
    seed: int | None = None,
    paired_count: int | None = None,
    scenes: dict[str, list[str]] | None = None,
    options: dict[str, Any] | None = None,
) -> Path:
    """Write ``dataset`` as a manifest at ``path`` (atomically) and return the path."""
    path = Path(path)
    base = path.parent
    if scenes is None:
        scenes = {
            domain: sorted({item.scene for item in getattr(dataset, domain)})
            for domain in ("paired", "source", "target", "validation")
        }
    document = {
        "format": FORMAT,
        "version": VERSION,
        "source_spec": source_spec,
        "seed": seed,
        "paired_count": paired_count,
        "options": options or {},
        "scenes": scenes,
        "domains": {
            "paired": [pair.to_entry(base) for pair in dataset.paired],
            "source": [ref.to_entry(base) for ref in dataset.source],
            "target": [ref.to_entry(base) for ref in dataset.target],
            "validation": [pair.to_entry(base) for pair in dataset.validation],
        },
    }
    return write_text_atomic(path, json.dumps(document, indent=1) + "\n", per_process=True)


def read_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: manifest not found; create one with 'senmvae data split'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(
            f"{path}: not a readable JSON manifest ({err}); regenerate it with 'senmvae data split'"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UserError(f'{path}: not a senmvae split manifest (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise UserError(
            f"{path}: manifest version {document.get('version')} but this senmvae reads version {VERSION}; "
            "regenerate it with 'senmvae data split'"
        )
    domains = document.get("domains") or {}
    base = path.parent
    where = str(path)
    dataset = SemiSupervisedSet(
        paired=[pair_from_entry(e, base, where) for e in domains.get("paired", [])],
        source=[ref_from_entry(e, base, where) for e in domains.get("source", [])],
        target=[ref_from_entry(e, base, where) for e in domains.get("target", [])],
        validation=[pair_from_entry(e, base, where) for e in domains.get("validation", [])],
        origin=f"{path} (split manifest of {document.get('source_spec')})",
    )
    return Manifest(
        dataset=dataset,
        source_spec=document.get("source_spec", ""),
        seed=document.get("seed"),
        paired_count=document.get("paired_count"),
        scenes=document.get("scenes") or {},
        options=document.get("options") or {},
    )

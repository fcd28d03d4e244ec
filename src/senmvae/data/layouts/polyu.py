"""PolyU real-world noisy images (Xu et al., 2018).

Files ``<camera>_<f>_<shutter>_<ISO>_<scene>_<k>_real.JPG`` (noisy) and ``..._mean.JPG``
(clean: the mean of many shots of the same scene), in ``CroppedImages/`` (and, in the full
release, ``OriginalImages/``). The scene is the name without ``_<k>``: the crops ``k`` of one
capture share it, so a split by scene never puts one capture on both sides.
"""

from __future__ import annotations

import re
from pathlib import Path

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.layouts.folders import empty_folder, image_key, match_partners, scan
from senmvae.data.refs import FileImage, Pair

_ROLE = re.compile(r"^(?P<base>.+)_(?P<role>real|mean)$", re.IGNORECASE)
# "_+": one file of the published set has a doubled underscore (..._plant__4_real.JPG).
_CROP = re.compile(r"^(?P<scene>.+?)_+\d+$")


def detect(root: Path) -> bool:
    return any(p.is_file() for pattern in ("*_real.[jJ][pP][gG]", "*/*_real.[jJ][pP][gG]") for p in root.glob(pattern))


def scene_of(base: str) -> str:
    match = _CROP.match(base)
    return match["scene"] if match else base


def read(root: Path, label: str) -> SemiSupervisedSet:
    images, problems = scan(root)
    clean: dict[str, Path] = {}
    noisy: dict[str, Path] = {}
    for path in images:
        match = _ROLE.match(path.stem)
        if not match:
            problems.append(
                Problem(
                    str(path),
                    "is neither *_real (noisy) nor *_mean (clean), so it is not part of the PolyU layout; "
                    "ignored. Move it out of the folder",
                    Action.SKIP,
                )
            )
            continue
        key = image_key(path.with_name(match["base"] + path.suffix), root)
        (noisy if match["role"].lower() == "real" else clean)[key] = path
    if not images:
        problems.append(empty_folder(root))
    matched, missing = match_partners(clean, noisy, root, root, "the matching *_mean / *_real file")
    pairs = []
    for key, clean_path, noisy_path in matched:
        scene = scene_of(Path(key).name)
        pairs.append(
            Pair(
                f"{label}/{key}",
                scene,
                FileImage(f"{label}/{key}_mean", scene, clean_path),
                FileImage(f"{label}/{key}_real", scene, noisy_path),
            )
        )
    return SemiSupervisedSet(paired=pairs, origin=f"{root} (PolyU real-noise layout)", problems=problems + missing)

"""DND, the Darmstadt Noise Dataset (Plötz and Roth, 2017), sRGB benchmark: noisy images only.

``info.mat`` (MATLAB v7.3, i.e. HDF5) holds a struct ``info`` whose field ``boundingboxes``
is a cell of one 20 x 4 array per image: (row1, col1, row2, col2), 1-based and inclusive,
boxes of 512 x 512. ``images_srgb/0001.mat`` ... ``0050.mat`` (HDF5) hold ``InoisySRGB``,
the float sRGB image. Each box is one noisy image; the source image is its scene.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.refs import DndBoxImage


def detect(root: Path) -> bool:
    return (root / "info.mat").is_file() and (root / "images_srgb").is_dir()


def _bounding_boxes(info_path: Path) -> list[np.ndarray]:
    """One (boxes, 4) int array per image, in image order."""
    import h5py

    with h5py.File(info_path, "r") as fh:
        info = fh["info"]
        references = np.asarray(info["boundingboxes"]).ravel()
        # MATLAB stores each 20 x 4 array transposed, as 4 x 20.
        return [np.asarray(fh[ref]).T.astype(np.int64) for ref in references]


def read(root: Path, label: str) -> SemiSupervisedSet:
    result = SemiSupervisedSet(origin=f"{root} (DND sRGB layout, noisy only)")
    info_path = root / "info.mat"
    try:
        all_boxes = _bounding_boxes(info_path)
    except (OSError, KeyError, ValueError, TypeError) as err:
        result.problems.append(
            Problem(
                str(info_path),
                f"cannot read the bounding boxes ({err}); expected DND's MATLAB v7.3 info.mat with "
                "info.boundingboxes. Re-download it",
                Action.REFUSE,
            )
        )
        return result
    for i, boxes in enumerate(all_boxes, start=1):
        path = root / "images_srgb" / f"{i:04d}.mat"
        if not path.is_file():
            result.problems.append(
                Problem(str(path), f"is missing, so its {len(boxes)} boxes are left out; re-download it", Action.SKIP)
            )
            continue
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            result.problems.append(
                Problem(str(info_path), f"boxes of image {i} have shape {boxes.shape}, expected (n, 4)", Action.REFUSE)
            )
            continue
        result.target += [
            DndBoxImage(f"{label}/{i:04d}_{k:02d}", f"dnd-{i:04d}", path, tuple(int(v) for v in box))
            for k, box in enumerate(boxes, start=1)
        ]
    return result

"""What a dataset entry points at, and how it is written into a manifest.

An :class:`ImageRef` names one image: a file, a block of an array in a MATLAB ``.mat``
file (SIDD validation/benchmark), a bounding box of a DND HDF5 image, or a file that is
bicubic-downsampled on load (the clean side of real-world super-resolution sets). Every
``load()`` returns float32 (H, W, 3) RGB in [0, 1]; every failure is an
:class:`~senmvae.data.io.ImageReadError` naming the file.
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from senmvae.data.io import ImageInfo, ImageReadError, bit_depth_of, read_image_with_info
from senmvae.errors import UserError


class ImageRef(ABC):
    """One image of a dataset: ``name`` is stable and unique, ``scene`` groups related images."""

    name: str
    scene: str

    @abstractmethod
    def load_with_info(self) -> tuple[np.ndarray, ImageInfo]:
        """The image and what its source holds (size, bit depth, mode)."""

    def load(self) -> np.ndarray:
        return self.load_with_info()[0]

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the image lives, for messages: a path, or a path with the block inside it."""

    @abstractmethod
    def _entry_fields(self, base: Path) -> dict[str, Any]: ...

    def to_entry(self, base: Path) -> dict[str, Any]:
        """A JSON-able record; paths are relative to ``base`` (the manifest's folder)."""
        return {"name": self.name, "scene": self.scene, **self._entry_fields(base)}


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()


@dataclass(frozen=True)
class FileImage(ImageRef):
    name: str
    scene: str
    path: Path

    def load_with_info(self) -> tuple[np.ndarray, ImageInfo]:
        return read_image_with_info(self.path)

    @property
    def location(self) -> str:
        return str(self.path)

    def _entry_fields(self, base: Path) -> dict[str, Any]:
        return {"kind": "file", "path": _relative(self.path, base)}


@functools.lru_cache(maxsize=4)
def _mat_array(path: str, variable: str) -> np.ndarray:
    """A whole array from a MATLAB file (v5/v7 through scipy, v7.3 through h5py), cached per process."""
    import h5py
    import scipy.io

    if not Path(path).is_file():
        raise ImageReadError(f"{path}: file not found")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as fh:
                if variable not in fh:
                    raise ImageReadError(f"{path}: no variable {variable!r} (holds {', '.join(fh.keys())})")
                # MATLAB v7.3 stores arrays column-major: the HDF5 axes are reversed.
                return np.asarray(fh[variable]).T
        contents = scipy.io.loadmat(path, variable_names=[variable])
    except ImageReadError:
        raise
    except Exception as err:  # scipy/h5py raise many types on corrupt files
        raise ImageReadError(f"{path}: cannot read MATLAB file ({err}); re-download it") from None
    if variable not in contents:
        raise ImageReadError(f"{path}: no variable {variable!r}; is this the right SIDD .mat file?")
    return contents[variable]


@dataclass(frozen=True)
class MatBlockImage(ImageRef):
    """Block ``index`` = (image, block) of an (N, K, H, W, 3) array in a MATLAB file."""

    name: str
    scene: str
    path: Path
    variable: str
    index: tuple[int, int]

    def load_with_info(self) -> tuple[np.ndarray, ImageInfo]:
        array = _mat_array(str(self.path), self.variable)
        if array.ndim != 5 or array.shape[-1] != 3:
            raise ImageReadError(
                f"{self.path}: {self.variable} has shape {array.shape}, expected (images, blocks, H, W, 3)"
            )
        i, j = self.index
        if i >= array.shape[0] or j >= array.shape[1]:
            raise ImageReadError(f"{self.location}: block outside the array of shape {array.shape}")
        block = array[i, j]
        info = ImageInfo(self.path, int(block.shape[1]), int(block.shape[0]), bit_depth_of(block), "RGB")
        return _float(block), info

    @property
    def location(self) -> str:
        return f"{self.path}[{self.variable} {self.index[0]},{self.index[1]}]"

    def _entry_fields(self, base: Path) -> dict[str, Any]:
        return {
            "kind": "mat-block",
            "path": _relative(self.path, base),
            "variable": self.variable,
            "index": list(self.index),
        }


@dataclass(frozen=True)
class DndBoxImage(ImageRef):
    """A bounding box of a DND sRGB image (HDF5 ``.mat``, variable ``InoisySRGB``).

    ``box`` is DND's (row1, col1, row2, col2), 1-based and inclusive.
    """

    name: str
    scene: str
    path: Path
    box: tuple[int, int, int, int]

    def load_with_info(self) -> tuple[np.ndarray, ImageInfo]:
        import h5py

        r1, c1, r2, c2 = self.box
        try:
            with h5py.File(self.path, "r") as fh:
                data = fh["InoisySRGB"]
                # Stored transposed (3, W, H): MATLAB arrays are column-major.
                crop = np.asarray(data[:, c1 - 1 : c2, r1 - 1 : r2]).T
        except FileNotFoundError:
            raise ImageReadError(f"{self.path}: file not found") from None
        except KeyError:
            raise ImageReadError(f"{self.path}: no InoisySRGB variable; is this a DND images_srgb file?") from None
        except OSError as err:
            raise ImageReadError(f"{self.path}: cannot read HDF5 file ({err}); re-download it") from None
        if crop.shape != (r2 - r1 + 1, c2 - c1 + 1, 3):
            raise ImageReadError(f"{self.location}: box outside the image (got {crop.shape})")
        info = ImageInfo(self.path, int(crop.shape[1]), int(crop.shape[0]), bit_depth_of(crop), "RGB")
        return _float(crop), info

    @property
    def location(self) -> str:
        return f"{self.path}[box {','.join(map(str, self.box))}]"

    def _entry_fields(self, base: Path) -> dict[str, Any]:
        return {"kind": "dnd-box", "path": _relative(self.path, base), "box": list(self.box)}


def resize(image: np.ndarray, size: tuple[int, int], resample: int = Image.BICUBIC) -> np.ndarray:
    """Float (H, W, C) resized to ``size`` = (width, height); PIL filters antialias when shrinking."""
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32)).resize(size, resample))
        for c in range(image.shape[2])
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def bicubic_downsample(image: np.ndarray, scale: int) -> np.ndarray:
    """B(x): crop to a multiple of ``scale``, then bicubic resize by 1/scale (antialiased, like MATLAB imresize)."""
    h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    return resize(image[:h, :w], (w // scale, h // scale))


@dataclass(frozen=True)
class BicubicImage(ImageRef):
    """An image file bicubic-downsampled by ``scale`` on load (clean HR -> LR size)."""

    name: str
    scene: str
    path: Path
    scale: int

    def load_with_info(self) -> tuple[np.ndarray, ImageInfo]:
        image, info = read_image_with_info(self.path)
        if image.shape[0] < self.scale or image.shape[1] < self.scale:
            raise ImageReadError(f"{self.path}: smaller than the downsampling factor {self.scale}; remove it")
        small = bicubic_downsample(image, self.scale)
        return small, ImageInfo(self.path, small.shape[1], small.shape[0], info.bit_depth, info.mode)

    @property
    def location(self) -> str:
        return f"{self.path}[bicubic 1/{self.scale}]"

    def _entry_fields(self, base: Path) -> dict[str, Any]:
        return {"kind": "bicubic", "path": _relative(self.path, base), "scale": self.scale}


def _float(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    return np.clip(array.astype(np.float32), 0.0, 1.0)


@dataclass(frozen=True)
class Pair:
    """A clean image and its noisy partner, aligned pixel for pixel."""

    name: str
    scene: str
    clean: ImageRef
    noisy: ImageRef

    def to_entry(self, base: Path) -> dict[str, Any]:
        return {
            "name": self.name,
            "scene": self.scene,
            "clean": self.clean.to_entry(base),
            "noisy": self.noisy.to_entry(base),
        }


def ref_from_entry(entry: dict[str, Any], base: Path, where: str) -> ImageRef:
    """The inverse of :meth:`ImageRef.to_entry`; ``where`` names the manifest for messages."""
    try:
        kind = entry["kind"]
        name, scene, path = entry["name"], entry["scene"], Path(os.path.normpath(Path(base) / entry["path"]))
        if kind == "file":
            return FileImage(name, scene, path)
        if kind == "mat-block":
            return MatBlockImage(name, scene, path, entry["variable"], tuple(entry["index"]))
        if kind == "dnd-box":
            return DndBoxImage(name, scene, path, tuple(entry["box"]))
        if kind == "bicubic":
            return BicubicImage(name, scene, path, int(entry["scale"]))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{where}: malformed entry {entry!r} ({err}); regenerate the manifest") from None
    raise UserError(f"{where}: unknown entry kind {kind!r}; regenerate the manifest with this version")


def pair_from_entry(entry: dict[str, Any], base: Path, where: str) -> Pair:
    try:
        return Pair(
            entry["name"],
            entry["scene"],
            ref_from_entry(entry["clean"], base, where),
            ref_from_entry(entry["noisy"], base, where),
        )
    except (KeyError, TypeError) as err:
        raise UserError(f"{where}: malformed pair entry ({err}); regenerate the manifest") from None

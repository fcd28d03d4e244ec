"""Small files written in the exact layouts and formats of the published datasets."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.io

from senmvae.data.io import write_image


def image(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth random colour image, quantised to 8 bits so PNG round trips are exact."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.5 + 0.3 * np.sin(2 * np.pi * (xx * rng.uniform(1, 3) + yy * rng.uniform(1, 3)))[..., None]
    colour = rng.uniform(0.3, 1.0, size=3)
    return np.round(np.clip(base * colour, 0, 1) * 255) / 255


def noisy_version(clean: np.ndarray, seed: int, sigma: float = 10 / 255) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    return np.round(np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1) * 255) / 255


def paired_folders(root: Path, names: list[str], size: tuple[int, int] = (48, 64), suffix: str = ".png") -> Path:
    for i, name in enumerate(names):
        clean = image(i, *size)
        write_image(root / "clean" / f"{name}{suffix}", clean)
        write_image(root / "noisy" / f"{name}{suffix}", noisy_version(clean, i))
    return root


def polyu(root: Path, scenes: dict[str, list[int]], size: tuple[int, int] = (48, 64)) -> Path:
    """``<camera>_<f>_<shutter>_<ISO>_<scene>_<k>_{real,mean}.JPG`` in CroppedImages/."""
    folder = root / "CroppedImages"
    for s, (scene, crops) in enumerate(scenes.items()):
        for k in crops:
            clean = image(100 * s + k, *size)
            write_image(folder / f"{scene}_{k}_mean.JPG", clean)
            write_image(folder / f"{scene}_{k}_real.JPG", noisy_version(clean, 100 * s + k))
    return root


def sidd_medium(root: Path, instances: list[str], size: tuple[int, int] = (48, 64)) -> Path:
    """``SIDD_Medium_Srgb/Data/<instance>/<id>_{GT,NOISY}_SRGB_{010,011}.PNG``."""
    data = root / "SIDD_Medium_Srgb" / "Data"
    for i, instance in enumerate(instances):
        ident = instance[:4]
        for j, index in enumerate(("010", "011")):
            clean = image(10 * i + j, *size)
            write_image(data / instance / f"{ident}_GT_SRGB_{index}.PNG", clean)
            write_image(data / instance / f"{ident}_NOISY_SRGB_{index}.PNG", noisy_version(clean, 10 * i + j))
        (data / instance / f"{ident}_METADATA_RAW_010.MAT").write_bytes(b"MATLAB raw metadata stand-in")
    (root / "SIDD_Medium_Srgb" / "Scene_Instances.txt").write_text("\n".join(instances) + "\n")
    return root / "SIDD_Medium_Srgb"


def sidd_blocks_arrays(images: int = 2, blocks: int = 3, side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    clean = rng.integers(40, 200, size=(images, blocks, side, side, 3), dtype=np.uint8)
    noise = rng.integers(-6, 7, size=clean.shape)
    noisy = np.clip(clean.astype(int) + noise, 0, 255).astype(np.uint8)
    return clean, noisy


def sidd_blocks(root: Path, hdf5: bool = False, benchmark: bool = True) -> tuple[Path, np.ndarray, np.ndarray]:
    """``ValidationGtBlocksSrgb.mat`` etc.: one variable named like the file, (images, blocks, H, W, 3) uint8.

    The real files are MATLAB v5/v7 (``scipy.io.savemat``); ``hdf5`` writes MATLAB v7.3 instead.
    """
    root.mkdir(parents=True, exist_ok=True)
    clean, noisy = sidd_blocks_arrays()
    arrays = {"ValidationGtBlocksSrgb": clean, "ValidationNoisyBlocksSrgb": noisy}
    if benchmark:
        arrays["BenchmarkNoisyBlocksSrgb"] = noisy[::-1].copy()
    for name, array in arrays.items():
        if hdf5:
            with h5py.File(root / f"{name}.mat", "w") as fh:
                fh.create_dataset(name, data=array.T)  # MATLAB v7.3 stores column-major
        else:
            scipy.io.savemat(root / f"{name}.mat", {name: array})
    return root, clean, noisy


def dnd(root: Path, boxes_per_image: list[np.ndarray], size: tuple[int, int] = (80, 96)) -> tuple[Path, list]:
    """``info.mat`` (v7.3: info.boundingboxes, a cell of n x 4 arrays) and ``images_srgb/NNNN.mat``."""
    (root / "images_srgb").mkdir(parents=True, exist_ok=True)
    images = []
    with h5py.File(root / "info.mat", "w") as info:
        group = info.create_group("info")
        refs = info.create_group("#refs#")
        references = []
        for i, boxes in enumerate(boxes_per_image):
            box_set = refs.create_dataset(f"b{i}", data=np.asarray(boxes, dtype=np.float64).T)
            references.append(box_set.ref)
        cell = group.create_dataset("boundingboxes", shape=(1, len(references)), dtype=h5py.ref_dtype)
        for i, ref in enumerate(references):
            cell[0, i] = ref
    for i in range(len(boxes_per_image)):
        noisy = np.random.default_rng(i).uniform(0, 1, size=(*size, 3)).astype(np.float32)
        images.append(noisy)
        with h5py.File(root / "images_srgb" / f"{i + 1:04d}.mat", "w") as fh:
            fh.create_dataset("InoisySRGB", data=noisy.T)
    return root, images


def sr_challenge(root: Path, variant: str = "ntire2020", scale: int = 4, lr: tuple[int, int] = (16, 24)) -> Path:
    """AIM 2019 track 2 / NTIRE 2020 track 1: Corrupted-tr-x, Corrupted-tr-y, Corrupted-va-x and
    Corrupted-va-y (NTIRE 2020) or DIV2K_valid_HR (AIM 2019)."""
    hr = (lr[0] * scale, lr[1] * scale)
    for i in range(3):
        write_image(root / "Corrupted-tr-x" / f"{i:04d}.png", image(i, *lr))
        write_image(root / "Corrupted-tr-y" / f"{i + 100:04d}.png", image(i + 100, *hr))
    valid_hr = root / ("Corrupted-va-y" if variant == "ntire2020" else "DIV2K_valid_HR")
    for i in range(801, 805):
        write_image(valid_hr / f"{i:04d}.png", image(i, *hr))
        write_image(root / "Corrupted-va-x" / f"{i:04d}.png", image(i + 5000, *lr))
    return root

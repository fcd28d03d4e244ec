"""Reading and writing images as float32 RGB arrays in [0, 1].

Every reader in the project goes through :func:`read_image`, which turns any failure into an
:class:`ImageReadError` naming the file, and every writer through :func:`write_image`, which
writes atomically (temporary file, fsync, rename) so an interrupted run never leaves a
truncated image behind. Images are turned upright by their EXIF orientation, as image viewers
show them (16-bit PNG and TIFF too, which are decoded without Pillow).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from senmvae.atomic import atomic_file
from senmvae.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
EXIF_ORIENTATION = 0x0112


class ImageReadError(UserError):
    """An image file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    width: int
    height: int
    bit_depth: int
    mode: str  # what the file holds: "RGB", "RGBA", "L" (grayscale), "P" (palette), ...


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _tiff_array(path: Path) -> tuple[np.ndarray, int]:
    """The pixels of a TIFF and its orientation tag (1 when absent or unreadable), from one open."""
    import tifffile

    with tifffile.TiffFile(str(path)) as tif:
        arr = tif.asarray()
        try:
            tag = tif.pages[0].tags.get(EXIF_ORIENTATION)
            orientation = int(tag.value) if tag is not None else 1
        except Exception:  # damaged metadata: the pixels are still fine, as stored
            orientation = 1
    return arr, orientation


def _raw_array(path: Path) -> tuple[np.ndarray, str]:
    """Decode ``path`` to an integer or float array (H, W) or (H, W, C) and its PIL-like mode."""
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            arr, orientation = _tiff_array(path)
        except Exception as err:  # tifffile raises many types on corrupt data
            raise ImageReadError(f"{path}: cannot decode TIFF ({err}); re-export the image or remove it") from None
        mode = "L" if arr.ndim == 2 else {3: "RGB", 4: "RGBA"}.get(arr.shape[-1], f"{arr.shape[-1]}-channel")
        return _upright_array(arr, orientation), mode
    if path.suffix.lower() == ".png" and _png_bit_depth(path) == 16:
        arr, mode = _read_png16(path)
        return _upright_array(arr, _png_orientation(path)), mode
    try:
        with Image.open(path) as im:
            im.load()
            im = _upright(im)
            mode = im.mode
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im)
                return arr.astype(np.uint16) if arr.max(initial=0) <= 65535 else arr, mode
            elif mode == "CMYK":
                im = im.convert("RGB")
            return np.asarray(im), mode
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied; make the file readable") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image PIL can read; remove it or convert it to PNG") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"{path}: corrupt or truncated image ({err}); re-download or remove it") from None


def _upright(im: Image.Image) -> Image.Image:
    """``im`` as displayed: a camera JPEG often stores the sensor's rows and an EXIF orientation tag."""
    try:
        orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # damaged EXIF: the pixels are still fine, as stored
        return im
    if orientation == 1:
        return im  # the common case, without the copy exif_transpose makes
    return ImageOps.exif_transpose(im)


def _png_orientation(path: Path) -> int:
    """The orientation in a PNG's eXIf chunk, 1 when absent: a walk over the chunk headers
    (Pillow would decode the whole image again to find a chunk stored after the pixels)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(8)  # the signature
            while len(header := fh.read(8)) == 8:
                length, kind = int.from_bytes(header[:4], "big"), header[4:]
                if kind == b"eXIf":
                    exif = Image.Exif()
                    exif.load(fh.read(length))
                    return int(exif.get(EXIF_ORIENTATION, 1))
                if kind == b"IEND":
                    break
                fh.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    except Exception:  # damaged metadata: the pixels are still fine, as stored
        pass
    return 1


def _upright_array(arr: np.ndarray, orientation: int) -> np.ndarray:
    """``arr`` (H, W[, C]) as displayed for an EXIF ``orientation`` (the transforms of
    ``ImageOps.exif_transpose``)."""
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: np.rot90(a, k=2).swapaxes(0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    transform = transforms.get(orientation)
    return arr if transform is None else np.ascontiguousarray(transform(arr))


def _png_bit_depth(path: Path) -> int | None:
    try:
        with open(path, "rb") as fh:
            header = fh.read(25)
    except OSError:
        return None  # reported by the regular reader
    if len(header) < 25 or header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return header[24]


def _read_png16(path: Path) -> tuple[np.ndarray, str]:
    """16-bit PNG at full precision (PIL reduces 16-bit colour PNGs to 8 bits)."""
    import png

    try:
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    except (png.Error, OSError, ValueError) as err:
        raise ImageReadError(f"{path}: corrupt or truncated PNG ({err}); re-download or remove it") from None
    planes = info["planes"]
    arr = arr.reshape(height, width, planes)
    mode = {1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[planes]
    if planes == 2:
        arr = arr[..., :1]
    return (arr[..., 0] if planes == 1 else arr), mode


# Float pixels this far outside [0, 1] are no rounding or filter overshoot (clipped) but another scale.
FLOAT_RANGE_SLACK = 0.25


def _check_float_pixels(path: Path, arr: np.ndarray) -> None:
    """Refuse float pixels that are not finite, or far outside [0, 1] (clipping them would hide it)."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = arr.size - int(finite.sum())
        raise ImageReadError(
            f"{path}: {bad} of its {arr.size} pixel values are not finite (NaN or inf), so the image cannot be "
            "used; fix those pixels (or export the image again) or remove it"
        )
    low, high = float(arr.min()), float(arr.max())
    if low < -FLOAT_RANGE_SLACK or high > 1 + FLOAT_RANGE_SLACK:
        raise ImageReadError(
            f"{path}: its float pixel values run from {low:.4g} to {high:.4g}, far outside the [0, 1] that a float "
            "image must hold; scale it to [0, 1] (divide by 255 or 65535 if it holds 8- or 16-bit values) or save "
            "it as an 8- or 16-bit PNG"
        )


def _to_float(path: Path, arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        _check_float_pixels(path, arr)
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    info = np.iinfo(arr.dtype)
    return arr.astype(np.float32) / float(info.max)


def bit_depth_of(arr: np.ndarray) -> int:
    return {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16, np.dtype(bool): 1}.get(arr.dtype, 32)


def read_image(path: str | Path, *, allow_gray: bool = True) -> np.ndarray:
    """Read ``path`` as float32 (H, W, 3) RGB in [0, 1].

    8- and 16-bit PNG, TIFF, JPEG and BMP are read at full precision. Grayscale is
    replicated to three channels when ``allow_gray`` (else refused); palette images are
    expanded; an alpha channel is dropped. Float pixels (TIFF) are clipped to [0, 1]; any that
    are NaN or inf, or beyond :data:`FLOAT_RANGE_SLACK` outside it, raise :class:`ImageReadError`.
    """
    path = Path(path)
    arr, mode = _raw_array(path)
    return _float_rgb(path, arr, mode, allow_gray)


def read_image_with_info(path: str | Path, *, allow_gray: bool = True) -> tuple[np.ndarray, ImageInfo]:
    """:func:`read_image` and :func:`image_info` from one decode of ``path``."""
    path = Path(path)
    arr, mode = _raw_array(path)
    return _float_rgb(path, arr, mode, allow_gray), _info_of(path, arr, mode)


def _float_rgb(path: Path, arr: np.ndarray, mode: str, allow_gray: bool) -> np.ndarray:
    arr = _to_float(path, arr)
    if arr.ndim == 3 and arr.shape[-1] == 2:  # grayscale + alpha
        arr = arr[..., :1]
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 1):
        if not allow_gray:
            raise ImageReadError(f"{path}: grayscale image where colour (RGB) is needed; convert it to RGB")
        arr = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2)
    elif arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    elif arr.ndim != 3 or arr.shape[-1] != 3:
        raise ImageReadError(f"{path}: unsupported image layout {arr.shape} ({mode}); convert it to RGB")
    return np.ascontiguousarray(arr, dtype=np.float32)


def image_info(path: str | Path) -> ImageInfo:
    """Size, bit depth and mode of an image, decoding it fully (so corrupt files are caught)."""
    path = Path(path)
    arr, mode = _raw_array(path)
    return _info_of(path, arr, mode)


def _info_of(path: Path, arr: np.ndarray, mode: str) -> ImageInfo:
    return ImageInfo(path, int(arr.shape[1]), int(arr.shape[0]), bit_depth_of(arr), mode)


def to_integer(image: np.ndarray, bits: int = 8) -> np.ndarray:
    if bits not in (8, 16):
        raise UserError(f"output bit depth must be 8 or 16, got {bits}")
    scale, dtype = (255.0, np.uint8) if bits == 8 else (65535.0, np.uint16)
    return np.round(np.clip(image, 0.0, 1.0) * scale).astype(dtype)


def write_image(path: str | Path, image: np.ndarray, bits: int = 8) -> Path:
    """Write float (H, W, 3) in [0, 1] as an 8- or 16-bit PNG/TIFF, atomically."""
    path = Path(path)
    data = to_integer(image, bits)
    with atomic_file(path, per_process=True) as tmp:
        _encode(tmp, path, data, bits)
    return path


def _encode(tmp: Path, path: Path, data: np.ndarray, bits: int) -> None:
    """Write ``data`` to ``tmp`` in the format that the suffix of ``path`` names."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(str(tmp), data)
    elif suffix == ".png":
        if bits == 16:
            _write_png16(tmp, data)
        else:
            Image.fromarray(data).save(tmp, format="PNG")
    else:
        if bits != 8:
            raise UserError(f"{path}: 16-bit output needs a .png or .tif name")
        Image.fromarray(data).save(tmp, format=Image.registered_extensions().get(suffix, "PNG"), quality=95)


def _write_png16(path: Path, data: np.ndarray) -> None:
    """16-bit RGB PNG: PIL cannot write 16-bit colour PNGs, pypng can."""
    import png

    h, w, c = data.shape
    writer = png.Writer(width=w, height=h, bitdepth=16, greyscale=False, alpha=False)
    with open(path, "wb") as fh:
        writer.write(fh, data.reshape(h, w * c))

"""JPEGs from cameras store the sensor's rows plus an EXIF orientation; images are read as shown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from senmvae.data.io import _upright_array, image_info, read_image

ORIENTATION = 0x0112


def test_exif_orientation_is_applied_when_reading_a_jpeg(tmp_path):
    stored = np.zeros((64, 96, 3), np.uint8)  # 96 wide, 64 high as stored
    stored[:32, :48] = (255, 0, 0)  # red top-left quarter
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[ORIENTATION] = 6  # "rotate 90 degrees clockwise to display": shown 64 wide, 96 high
    path = tmp_path / "camera.jpg"
    img.save(path, exif=exif, quality=95)

    image = read_image(path)

    assert image.shape == (96, 64, 3)
    shown = np.rot90(stored, k=-1).astype(np.float32) / 255
    assert np.abs(image - shown).mean() < 0.02  # the red quarter is at the top right, as a viewer shows it
    info = image_info(path)
    assert (info.width, info.height) == (64, 96)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_array_orientation_matches_pillow(orientation):
    stored = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[ORIENTATION] = orientation
    img.info["exif"] = exif.tobytes()
    shown = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(_upright_array(stored, orientation), shown)


def test_exif_orientation_is_applied_to_16_bit_tiff(tmp_path):
    import tifffile

    stored = np.zeros((64, 96, 3), np.uint16)
    stored[:32, :48] = (65535, 0, 0)
    path = tmp_path / "camera.tif"
    tifffile.imwrite(str(path), stored, photometric="rgb", extratags=[(ORIENTATION, "H", 1, 6, True)])

    image = read_image(path)

    np.testing.assert_array_equal(image, np.rot90(stored, k=-1).astype(np.float32) / 65535)
    assert (image_info(path).width, image_info(path).height) == (64, 96)


def test_exif_orientation_is_applied_to_16_bit_png_with_exif_after_the_pixels(tmp_path):
    import io
    import zlib

    import png

    stored = np.zeros((64, 96, 3), np.uint16)
    stored[:32, :48] = (65535, 0, 0)
    buffer = io.BytesIO()
    png.Writer(96, 64, bitdepth=16, greyscale=False).write(buffer, stored.reshape(64, -1))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = exif.tobytes()[len(b"Exif\x00\x00") :]
    chunk = len(data).to_bytes(4, "big") + b"eXIf" + data + zlib.crc32(b"eXIf" + data).to_bytes(4, "big")
    encoded = buffer.getvalue()
    path = tmp_path / "camera.png"
    path.write_bytes(encoded[:-12] + chunk + encoded[-12:])  # before IEND, after IDAT

    image = read_image(path)

    np.testing.assert_array_equal(image, np.rot90(stored, k=-1).astype(np.float32) / 65535)

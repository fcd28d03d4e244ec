"""AKLD on real JPEG noise (PolyU): DANet's direction barely penalises missing noise, the reverse does."""

import math

import numpy as np
import pytest
import torch

from senmvae.data.io import read_image
from senmvae.metrics import akld_danet, akld_reverse
from tests.conftest import POLYU, require

CLAMP_CEILING = 0.5 * (0.1 - 1 + math.log(10))  # DANet's per-pixel cost of missing noise


@pytest.fixture(scope="module")
def polyu_crops():
    """Centre 128x128 crops of every 16th PolyU pair: (synthetic candidates, real noisy, clean)."""
    folder = require(POLYU / "CroppedImages")
    noisy_files = sorted(folder.glob("*_real.JPG"))[::16]
    crop = (slice(192, 320), slice(192, 320))
    real = np.stack([read_image(f)[crop] for f in noisy_files])
    clean = np.stack([read_image(f.with_name(f.name.replace("_real", "_mean")))[crop] for f in noisy_files])
    real, clean = (torch.from_numpy(a).permute(0, 3, 1, 2).double() for a in (real, clean))
    std = (real - clean).std(dim=(1, 2, 3), keepdim=True)  # a Gaussian fitted on the test images themselves
    gaussian = clean + std * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return {"none": clean, "gaussian": gaussian, "real": real}, real, clean


def test_akld_of_no_noise_sits_at_danets_clamp_ceiling(polyu_crops):
    candidates, real, clean = polyu_crops
    danet = {name: akld_danet(s, real, clean).mean().item() for name, s in candidates.items()}
    reverse = {name: akld_reverse(s, real, clean).mean().item() for name, s in candidates.items()}
    assert danet["none"] == pytest.approx(0.70, abs=0.01)
    assert danet["none"] <= CLAMP_CEILING + 1e-12
    assert danet["real"] == reverse["real"] == 0.0
    # DANet's direction scores no noise within a small factor of a fitted Gaussian ...
    assert danet["none"] / danet["gaussian"] < 3
    # ... the reverse direction ranks them clearly: real < Gaussian << none
    assert reverse["real"] < reverse["gaussian"] < reverse["none"] / 8
    assert reverse["none"] > 3.3

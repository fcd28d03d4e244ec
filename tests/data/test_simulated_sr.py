import json

import numpy as np
import pytest

from senmvae.data import BicubicImage, detect_layout, load_spec
from senmvae.data.io import read_image, write_image
from senmvae.data.refs import bicubic_downsample
from senmvae.data.simulated_sr import SimulatedSRRecipe, build_simulated_sr, simulated_sr_path
from senmvae.errors import UserError
from tests.data.builders import image


def _photos(root, count=9, size=(64, 80)):
    for i in range(count):
        write_image(root / f"photo{i}.png", image(i, *size))
    return root


def test_it_writes_the_aim2019_layout_with_every_photo_in_one_part_only(tmp_path):
    out = build_simulated_sr([_photos(tmp_path / "photos")], tmp_path / "sim", bundled=False, progress=False)

    assert detect_layout(out) == "sr"
    dataset = load_spec(out)
    assert len(dataset.paired) == 3 and len(dataset.source) == 3 and len(dataset.target) == 3
    names = [p.name.split("/")[-1] for p in dataset.paired]
    names += [r.name.split("/")[-1].split("@")[0] for r in (*dataset.source, *dataset.target)]
    assert len(set(names)) == 9
    assert all(isinstance(p.clean, BicubicImage) for p in dataset.paired)
    pair = dataset.paired[0]
    low, hr = pair.noisy.load(), read_image(pair.clean.path)
    assert low.shape == (16, 20, 3) and hr.shape == (64, 80, 3)
    level = np.std(low - bicubic_downsample(hr, 4))
    assert 2 / 255 < level < 60 / 255  # degraded: noise, blur and JPEG on top of B(HR)
    assert "SIMULATED" in (out / "README.txt").read_text()
    record = json.loads((out / "simulation.json").read_text())
    assert {v["part"] for v in record["photos"].values()} == {"validation", "source", "target"}
    draw = next(v for v in record["photos"].values() if v["part"] == "target")
    assert {"blur_sigma", "preset", "iso_factor", "jpeg"} <= set(draw) and 60 <= draw["jpeg"] <= 85


def test_building_is_deterministic(tmp_path):
    photos = _photos(tmp_path / "photos", count=4)
    first = build_simulated_sr([photos], tmp_path / "a", bundled=False, progress=False)
    second = build_simulated_sr([photos], tmp_path / "b", bundled=False, progress=False)
    files = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.png"))
    assert all(np.array_equal(read_image(first / f), read_image(second / f)) for f in files)


def test_bad_sources_get_one_message_naming_them(tmp_path):
    with pytest.raises(UserError, match="missing"):
        build_simulated_sr([tmp_path / "missing"], tmp_path / "out", bundled=False)
    with pytest.raises(UserError, match="at least 4 photos"):
        build_simulated_sr([_photos(tmp_path / "few", count=2)], tmp_path / "out", bundled=False)
    with pytest.raises(UserError, match="camera preset"):
        SimulatedSRRecipe(presets=("no-such-camera",))


def test_the_cached_set_includes_the_bundled_photos_and_is_built_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SENMVAE_CACHE", str(tmp_path / "cache"))
    photos = _photos(tmp_path / "photos", count=4)
    path = simulated_sr_path([photos])
    record = json.loads((path / "simulation.json").read_text())["photos"]
    assert len(record) == 4 + 8 and any(name.startswith("bundled_") for name in record)
    stamp = (path / "simulation.json").stat().st_mtime_ns
    assert simulated_sr_path([photos]) == path and (path / "simulation.json").stat().st_mtime_ns == stamp

"""The embedded default dataset: built once from bundled photos, deterministic, a valid split."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from senmvae.data import load_spec, validate
from senmvae.data.embedded import VERSION, default_dataset_path
from senmvae.data.spec import detect_layout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENMVAE_CACHE", str(cache))
        start = time.perf_counter()
        path = default_dataset_path()
        seconds = time.perf_counter() - start
        yield path, seconds, mp


def digest(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_it_is_created_quickly_under_the_cache_and_reused(built):
    path, seconds, _ = built
    assert path.name == f"default-v{VERSION}" and path.parent.name.startswith("cache")
    assert seconds < 20
    mtime = (path / "manifest.json").stat().st_mtime_ns
    assert default_dataset_path() == path
    assert (path / "manifest.json").stat().st_mtime_ns == mtime


def test_it_is_a_scene_grouped_semi_supervised_split_with_validation(built):
    path, _, _ = built
    assert detect_layout(path) == "manifest"
    dataset = load_spec("default")
    assert len(dataset.paired) == 6 and dataset.source and dataset.target and dataset.validation
    roles = [{i.scene for i in getattr(dataset, d)} for d in ("paired", "source", "target", "validation")]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not roles[i] & roles[j]
    total = sum(len(getattr(dataset, d)) for d in ("paired", "source", "target", "validation"))
    assert 24 <= total <= 48
    report = validate(dataset, 64, progress=False)
    assert report.ok and not report.problems
    assert all(size == (128, 128) for size in report.stats["paired"].sizes)
    noise = report.stats["paired"].noise_std + report.stats["validation"].noise_std
    assert 2 / 255 < min(noise) and max(noise) < 20 / 255


def test_it_records_the_presets_and_their_citations(built):
    path, _, _ = built
    record = json.loads((path / "simulation.json").read_text())
    assert len(record) == 8
    assert all("darktable data/noiseprofiles.json" in r["noise_citation"] for r in record.values())
    assert len({r["preset"] for r in record.values()}) == 3


def test_it_is_deterministic(built, tmp_path):
    path, _, mp = built
    mp.setenv("SENMVAE_CACHE", str(tmp_path))
    again = default_dataset_path()
    assert again != path
    assert digest(again) == digest(path)
    assert (again / "manifest.json").read_text() == (path / "manifest.json").read_text()

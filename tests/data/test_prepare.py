"""Patch preparation: exact windows, scenes kept, resumable with the same result."""

from __future__ import annotations

import numpy as np
import pytest

from senmvae.data import load_spec
from senmvae.data import prepare as prepare_module
from senmvae.data.io import read_image, write_image
from senmvae.data.prepare import PatchOptions, patch_positions, prepare_patches
from senmvae.errors import UserError
from tests.data import builders


@pytest.fixture
def spec(tmp_path):
    root = builders.polyu(tmp_path / "polyu", {"Canon5D2_5_160_3200_chair": [1, 2], "Sony_4_200_3200_door": [3]})
    write_image(tmp_path / "photos" / "deep.png", builders.image(5, 40, 40), bits=16)
    write_image(tmp_path / "photos" / "wide.png", builders.image(6, 48, 56))
    path = tmp_path / "spec.yaml"
    path.write_text(f"paired: [{root}]\nsource: [photos]\nvalidation: [{root}]\n")
    return path


def test_positions_are_distinct_in_range_and_seeded():
    options = PatchOptions(patch=8, per_image=20, seed=1)
    positions = patch_positions(12, 30, options, "img")
    assert len(set(positions)) == 20
    assert all(0 <= top <= 4 and 0 <= left <= 22 for top, left in positions)
    assert positions == patch_positions(12, 30, options, "img")
    assert positions != patch_positions(12, 30, options, "other")
    assert len(patch_positions(9, 9, options, "img")) == 4  # only 2 x 2 positions exist


def test_patches_are_the_windows_of_their_images_with_scenes_and_bit_depth(tmp_path, spec):
    out = tmp_path / "patches"
    manifest = prepare_patches(load_spec(spec), out, PatchOptions(patch=16, per_image=5), progress=False)
    prepared = load_spec(manifest)
    assert manifest == out / "manifest.json" and load_spec(out).paired == prepared.paired
    assert len(prepared.paired) == 3 * 5 and len(prepared.source) == 2 * 5
    assert len(prepared.validation) == 3 and prepared.validation[0].clean.path.suffix == ".JPG"  # carried uncut
    original = {p.name: p for p in load_spec(spec).paired}
    pair = prepared.paired[7]
    source_pair = original[pair.name.split("#")[0]]
    assert pair.scene == source_pair.scene
    k = int(pair.name.split("#p")[1])
    top, left = patch_positions(48, 64, PatchOptions(patch=16, per_image=5), source_pair.name)[k]
    assert np.array_equal(pair.clean.load(), source_pair.clean.load()[top : top + 16, left : left + 16])
    assert np.array_equal(pair.noisy.load(), source_pair.noisy.load()[top : top + 16, left : left + 16])
    assert [r.load_with_info()[1].bit_depth for r in prepared.source] == [16] * 5 + [8] * 5


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, spec, monkeypatch):
    options = PatchOptions(patch=16, per_image=4, seed=2)
    reference = load_spec(prepare_patches(load_spec(spec), tmp_path / "ref", options, progress=False))

    real_cut = prepare_module._cut
    calls = []

    def cut_then_stop(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        return real_cut(*args)

    monkeypatch.setattr(prepare_module, "_cut", cut_then_stop)
    with pytest.raises(KeyboardInterrupt):
        prepare_patches(load_spec(spec), tmp_path / "resumed", options, progress=False)
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    monkeypatch.setattr(prepare_module, "_cut", lambda *args: calls.append(args) or real_cut(*args))
    resumed = load_spec(prepare_patches(load_spec(spec), tmp_path / "resumed", options, progress=False))

    assert len(calls) == 5  # 2 images before the stop, the other 3 after: none cut twice
    assert [p.name for p in resumed.paired] == [p.name for p in reference.paired]
    for a, b in zip(resumed.refs(), reference.refs()):
        assert np.array_equal(a.load(), b.load())


def test_resuming_with_other_options_is_refused(tmp_path, spec):
    prepare_patches(load_spec(spec), tmp_path / "out", PatchOptions(patch=16, per_image=2), progress=False)
    with pytest.raises(UserError, match="was prepared with"):
        prepare_patches(load_spec(spec), tmp_path / "out", PatchOptions(patch=16, per_image=3), progress=False)


def test_images_smaller_than_the_patch_are_left_out(tmp_path, spec):
    options = PatchOptions(patch=45, per_image=10)
    prepared = load_spec(prepare_patches(load_spec(spec), tmp_path / "out", options, progress=False))
    assert len(prepared.paired) == 3 * 10
    assert len(prepared.source) == 10  # the 48x56 photo; the 40x40 one is smaller than the patch
    assert all(r.name.startswith("photos/wide#") for r in prepared.source)
    assert read_image(prepared.paired[0].clean.path).shape == (45, 45, 3)

"""The semi-supervised split: counts, scene grouping, seeds, the SR protocol, the manifest."""

from __future__ import annotations

import json

import pytest

from senmvae.data import FileImage, Pair, SemiSupervisedSet, build_split, load_spec, read_manifest, write_manifest
from senmvae.errors import UserError
from tests.conftest import POLYU, require
from tests.data import builders


def collection(scene_sizes: dict[str, int]) -> SemiSupervisedSet:
    pairs = []
    for scene, n in scene_sizes.items():
        for k in range(n):
            name = f"{scene}/{k}"
            pairs.append(
                Pair(name, scene, FileImage(f"{name}/c", scene, "c.png"), FileImage(f"{name}/n", scene, "n.png"))
            )
    return SemiSupervisedSet(paired=pairs, origin="synthetic")


def roles(dataset: SemiSupervisedSet) -> dict[str, set[str]]:
    return {d: {item.scene for item in getattr(dataset, d)} for d in ("paired", "source", "target", "validation")}


SCENES = {f"s{i:02d}": 3 + i % 4 for i in range(20)}  # 20 scenes, 90 pairs


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_no_scene_is_shared_between_roles_and_counts_add_up(seed):
    split = build_split(collection(SCENES), 10, seed=seed, validation=0.1)
    data = split.dataset
    assert len(data.paired) == 10
    scene_roles = roles(data)
    for a in scene_roles:
        for b in scene_roles:
            if a != b:
                assert not scene_roles[a] & scene_roles[b], (a, b)
    assert len(scene_roles["validation"]) == 2  # 10% of 20 scenes
    used = len(data.paired) + len(data.source) + len(data.target) + len(data.validation) + len(split.dropped)
    assert used == sum(SCENES.values())
    assert abs(len(data.source) - len(data.target)) <= 6  # halves balanced up to one scene
    assert all(isinstance(r, FileImage) and r.name.endswith("/c") for r in data.source)
    assert all(r.name.endswith("/n") for r in data.target)


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    def names(seed):
        d = build_split(collection(SCENES), 5, seed=seed).dataset
        return [p.name for p in d.paired], [r.name for r in d.source]

    assert names(3) == names(3)
    assert names(3) != names(4)


def test_paired_scenes_contribute_exactly_n_pairs_and_drop_their_rest():
    split = build_split(collection({"a": 4, "b": 4, "c": 4, "d": 4}), 5, seed=0, validation=0.0)
    assert len(split.dataset.paired) == 5 and len(split.dropped) == 3
    assert len(roles(split.dataset)["paired"]) == 2
    assert split.scenes["dropped"] and set(split.scenes["dropped"]) <= roles(split.dataset)["paired"]


def test_group_by_image_splits_pairs_individually_as_the_paper_did():
    split = build_split(collection({"a": 10, "b": 10}), 3, seed=0, validation=0.0, group_by="image")
    assert len(split.dataset.paired) == 3 and not split.dropped
    assert len(split.dataset.source) + len(split.dataset.target) == 17
    assert abs(len(split.dataset.source) - len(split.dataset.target)) <= 1


def test_sorted_order_with_validation_rest_is_the_sr_protocol(tmp_path):
    root = builders.sr_challenge(tmp_path / "ntire")
    dataset = load_spec(root)
    split = build_split(dataset, 2, validation="rest", order="sorted", group_by="image")
    assert [p.name for p in split.dataset.paired] == ["ntire/validation/0801", "ntire/validation/0802"]
    assert [p.name for p in split.dataset.validation] == ["ntire/validation/0803", "ntire/validation/0804"]
    assert split.dataset.source == dataset.source and split.dataset.target == dataset.target


def test_max_unpaired_caps_each_unpaired_domain():
    split = build_split(collection(SCENES), 10, seed=0, max_unpaired=7)
    assert len(split.dataset.source) == 7 and len(split.dataset.target) == 7
    sorted_split = build_split(collection(SCENES), 10, seed=0, max_unpaired=7, order="sorted")
    assert [r.name for r in sorted_split.dataset.source] == sorted(r.name for r in sorted_split.dataset.source)


def test_existing_validation_scenes_stay_out_of_the_pool():
    data = collection({"a": 3, "b": 3, "c": 3})
    data.validation = [p for p in data.paired if p.scene == "a"]
    split = build_split(data, 2, seed=0, validation=0.0)
    assert "a" not in roles(split.dataset)["paired"] | roles(split.dataset)["source"] | roles(split.dataset)["target"]
    assert len(split.dataset.validation) == 3


def test_impossible_requests_say_what_to_do():
    with pytest.raises(UserError, match="has 6 usable pairs; lower --paired, or run 'senmvae data prepare'"):
        build_split(collection({"a": 3, "b": 3}), 7)
    with pytest.raises(UserError, match="at least 1"):
        build_split(collection({"a": 3}), 0)
    with pytest.raises(UserError, match="fraction"):
        build_split(collection({"a": 3}), 1, validation=1.5)


def test_polyu_split_is_reproducible_from_its_manifest(tmp_path):
    dataset = load_spec(require(POLYU))
    split = build_split(dataset, 10, seed=0)
    path = write_manifest(
        tmp_path / "split.json", split.dataset, source_spec=str(POLYU), seed=0, paired_count=10, scenes=split.scenes
    )
    manifest = read_manifest(path)
    again = load_spec(path)
    assert manifest.scenes == split.scenes and manifest.paired_count == 10 and manifest.seed == 0
    assert [p.name for p in again.paired] == [p.name for p in split.dataset.paired]
    assert [p.name for p in again.validation] == [p.name for p in split.dataset.validation]
    assert len(again.paired) == 10 and again.validation
    scene_roles = roles(again)
    assert not (scene_roles["paired"] | scene_roles["validation"]) & (scene_roles["source"] | scene_roles["target"])
    document = json.loads(path.read_text())
    assert document["domains"]["paired"][0]["clean"]["path"].endswith("_mean.JPG")

"""Training samples: deterministic in (seed, index), paired transforms, domain frequencies, sharding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from senmvae.data import MixedDomainDataset, SemiSupervisedSet, StepBatchSampler, load_spec
from senmvae.data.io import write_image
from senmvae.data.sampler import dihedral
from senmvae.domain import Domain
from senmvae.errors import UserError
from tests.data import builders


@pytest.fixture
def dataset(tmp_path) -> SemiSupervisedSet:
    root = tmp_path / "set"
    for i in range(3):
        clean = builders.image(i, 40, 52)
        write_image(root / "clean" / f"p{i}.png", clean)
        write_image(root / "noisy" / f"p{i}.png", 1.0 - clean)  # a pixelwise partner we can check
    for i in range(2):
        write_image(tmp_path / "src" / f"s{i}.png", builders.image(10 + i, 36, 36))
        write_image(tmp_path / "tgt" / f"t{i}.png", builders.image(20 + i, 33, 45))
    spec = tmp_path / "spec.yaml"
    spec.write_text("paired: [set]\nsource: [src]\ntarget: [tgt]\n")
    return load_spec(spec)


def find_window(image: np.ndarray, patch: np.ndarray) -> bool:
    """Whether ``patch`` is one of the 8 transforms of some window of ``image``."""
    c = patch.shape[0]
    for k in range(8):
        for top in range(image.shape[0] - c + 1):
            for left in range(image.shape[1] - c + 1):
                if np.array_equal(dihedral(image[top : top + c, left : left + c], k), patch):
                    return True
    return False


def test_dihedral_gives_the_eight_distinct_flips_and_rotations():
    a = np.arange(9).reshape(3, 3, 1)
    outs = [dihedral(a, k)[..., 0] for k in range(8)]
    assert len({o.tobytes() for o in outs}) == 8
    assert np.array_equal(outs[1], np.rot90(a[..., 0]))
    assert np.array_equal(outs[4], a[..., 0][:, ::-1])


def test_an_item_is_a_function_of_seed_and_index_alone(dataset):
    a = MixedDomainDataset(dataset, crop=16, seed=5)
    b = MixedDomainDataset(dataset, crop=16, seed=5)
    for i in (0, 17, 12345, 10**9):
        x, y = a[i], b[i]
        assert x["domain"] == y["domain"]
        assert torch.equal(x["clean"], y["clean"]) and torch.equal(x["noisy"], y["noisy"])
    b[3]  # other items in between do not change later ones
    assert torch.equal(a[99]["noisy"], b[99]["noisy"])
    other = MixedDomainDataset(dataset, crop=16, seed=6)
    assert any(not torch.equal(a[i]["clean"], other[i]["clean"]) for i in range(10))


def test_items_are_crops_with_the_same_transform_on_both_sides_of_a_pair(dataset):
    data = MixedDomainDataset(dataset, crop=12, seed=0)
    seen = {d: 0 for d in Domain}
    for i in range(60):
        item = data[i]
        domain = Domain(item["domain"])
        seen[domain] += 1
        assert item["clean"].shape == item["noisy"].shape == (3, 12, 12)
        assert item["clean"].dtype == torch.float32
        if domain is Domain.PAIRED:
            assert torch.allclose(item["noisy"], 1.0 - item["clean"], atol=1e-6)
        elif domain is Domain.SOURCE:
            assert not item["noisy"].any() and item["clean"].any()
        else:
            assert not item["clean"].any() and item["noisy"].any()
    assert all(seen[d] > 0 for d in Domain)


def test_with_image_levels_a_pair_carries_the_noise_std_of_its_whole_image(dataset):
    data = MixedDomainDataset(dataset, crop=12, seed=0, image_levels=True)
    whole = {float(np.std(1.0 - 2.0 * p.clean.load().astype(np.float64), ddof=1)) for p in dataset.paired}
    batch = next(iter(DataLoader(data, batch_size=16)))
    for domain, level, clean, noisy in zip(batch["domain"], batch["level"], batch["clean"], batch["noisy"]):
        if Domain(int(domain)) is Domain.PAIRED:
            assert min(abs(float(level) - w) for w in whole) < 1e-6
            assert abs(float(level) - float((noisy - clean).std())) > 1e-4  # not the crop's own
        else:
            assert float(level) == 0.0
    assert "level" not in MixedDomainDataset(dataset, crop=12, seed=0)[0]


def test_a_source_item_is_a_transformed_window_of_its_image(dataset):
    data = MixedDomainDataset(dataset, crop=8, frequencies=(0, 1, 0), seed=3)
    images = [ref.load() for ref in dataset.source]
    for i in range(3):
        patch = data[i]["clean"].permute(1, 2, 0).numpy()
        assert any(find_window(image, patch) for image in images)


def test_domains_follow_the_frequencies_and_empty_domains_get_none(dataset):
    data = MixedDomainDataset(dataset, crop=8, frequencies=(2.0, 1.0, 1.0), seed=0)
    assert data.probabilities == pytest.approx([0.5, 0.25, 0.25])
    counts = np.bincount([data[i]["domain"] for i in range(2000)], minlength=3) / 2000
    assert counts == pytest.approx([0.5, 0.25, 0.25], abs=0.04)
    no_source = SemiSupervisedSet(paired=dataset.paired, target=dataset.target)
    data = MixedDomainDataset(no_source, crop=8)
    assert data.probabilities == pytest.approx([0.5, 0.0, 0.5])
    with pytest.raises(UserError, match="no domain can be sampled"):
        MixedDomainDataset(no_source, crop=8, frequencies=(0, 1, 0))


def test_an_image_smaller_than_the_crop_names_the_file(dataset):
    data = MixedDomainDataset(SemiSupervisedSet(paired=dataset.paired), crop=41)
    with pytest.raises(UserError, match=r"p\d\.png: 52x40 is smaller than the 41x41 crop"):
        data[0]


def test_step_sampler_shards_each_batch_into_contiguous_slices():
    single = StepBatchSampler(8)
    it = iter(single)
    assert [next(it) for _ in range(2)] == [list(range(8)), list(range(8, 16))]
    shards = [iter(StepBatchSampler(8, rank=r, world_size=4, start_step=5)) for r in range(4)]
    step5 = [next(s) for s in shards]
    assert step5 == [[40, 41], [42, 43], [44, 45], [46, 47]]
    assert sum((next(s) for s in shards), []) == list(range(48, 56))
    resumed = iter(StepBatchSampler(8, start_step=1))
    assert next(resumed) == list(range(8, 16))
    with pytest.raises(UserError, match="divisible"):
        StepBatchSampler(6, world_size=4)


def test_loader_workers_give_the_same_batches_as_the_main_process(dataset):
    data = MixedDomainDataset(dataset, crop=8, seed=2)

    def batches(workers):
        loader = DataLoader(data, batch_sampler=StepBatchSampler(4, start_step=3), num_workers=workers)
        it = iter(loader)
        return [next(it) for _ in range(3)]

    main, workers = batches(0), batches(2)
    for a, b in zip(main, workers):
        assert torch.equal(a["domain"], b["domain"]) and torch.equal(a["noisy"], b["noisy"])
    assert main[0]["clean"].shape == (4, 3, 8, 8) and main[0]["domain"].dtype == torch.long
    direct = data[12]  # step 3, first sample
    assert torch.equal(main[0]["noisy"][0], direct["noisy"])

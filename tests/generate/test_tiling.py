import itertools

import pytest
import torch

from senmvae.errors import UserError
from senmvae.generate.tiling import check_tiling, pad_to_multiple, tile_layout, tile_weights


@pytest.mark.parametrize("tile,overlap,multiple", [(64, 16, 1), (64, 32, 2), (96, 16, 4), (512, 64, 2), (40, 0, 4)])
def test_layouts_overlap_enough_and_weights_partition_unity(tile, overlap, multiple):
    for length in range(multiple, 700, multiple):
        size, starts = tile_layout(length, tile, overlap, multiple)
        assert size <= tile and size % multiple == 0 and all(s % multiple == 0 for s in starts)
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in itertools.pairwise(starts))
        if length > tile:  # the fewest tiles that can overlap by `overlap`
            assert (len(starts) - 2) * (tile - overlap) + tile < length
        total = torch.zeros(length, dtype=torch.float64)
        for start, weight in tile_weights(length, tile, overlap, multiple):
            total[start : start + len(weight)] += weight.double()
            if overlap and start > 0:
                assert torch.all(weight[: overlap // 4] == 0)
            if overlap and start + len(weight) < length:
                assert torch.all(weight[len(weight) - overlap // 4 :] == 0)
        torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64), atol=1e-6, rtol=0)


def test_tiles_are_even_and_no_larger_than_needed():
    assert tile_layout(200, 64, 16) == (62, [0, 46, 92, 138])
    assert tile_layout(64, 64, 16) == (64, [0])
    # 1024 in tiles of at most 512 overlapping by 64: three tiles of 384, not three of 512
    assert tile_layout(1024, 512, 64, 2) == (384, [0, 320, 640])


def test_a_tile_contributes_nothing_near_its_inner_edges():
    # overlap 32: ramps 16 wide centred in the shared band, so 8 pixels at each inner edge get 0
    (s0, w0), (s1, w1), (s2, w2) = tile_weights(128, 64, 32)
    assert (s0, s1, s2) == (0, 32, 64)
    assert torch.all(w0[-8:] == 0) and torch.all(w0[:40] == 1)
    assert torch.all(w1[:8] == 0) and torch.all(w1[-8:] == 0)
    assert torch.all(w2[:8] == 0) and torch.all(w2[-8:] == 1)


def test_check_tiling_names_the_bad_setting():
    check_tiling(64, 16, 2)
    with pytest.raises(UserError, match="multiple of 4"):
        check_tiling(66, 16, 4)
    with pytest.raises(UserError, match="overlap 6"):
        check_tiling(64, 6, 4)
    with pytest.raises(UserError, match="at most half"):
        check_tiling(64, 40, 2)


def test_pad_to_multiple_reflects_bottom_right_only():
    image = torch.arange(12.0).view(1, 1, 3, 4)
    padded = pad_to_multiple(image, 4)
    assert padded.shape[-2:] == (4, 4)
    torch.testing.assert_close(padded[..., :3, :], image)
    torch.testing.assert_close(padded[..., 3, :], image[..., 1, :])

import pytest
import torch

from senmvae.errors import UserError
from senmvae.generate.tiling import check_tiling, pad_to_multiple, tile_starts, tile_weights


@pytest.mark.parametrize(
    "length,tile,overlap",
    [(100, 200, 16), (128, 64, 16), (120, 64, 32), (200, 64, 16), (66, 64, 32), (64 * 5, 64, 0), (1000, 256, 64)],
)
def test_weights_partition_unity(length, tile, overlap):
    total = torch.zeros(length, dtype=torch.float64)
    for start, weight in tile_weights(length, tile, overlap):
        assert len(weight) == min(tile, length) and start + len(weight) <= length
        total[start : start + len(weight)] += weight.double()
    torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64), atol=1e-6, rtol=0)


def test_tiles_cover_the_axis_with_the_requested_overlap_and_end_flush():
    assert tile_starts(200, 64, 16) == [0, 48, 96, 136]
    assert tile_starts(64, 64, 16) == [0]
    assert tile_starts(112, 64, 16) == [0, 48]


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

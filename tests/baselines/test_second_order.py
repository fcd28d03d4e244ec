import torch

from senmvae.baselines.second_order import SecondOrderLR


def test_second_order_rows_keep_the_size_differ_from_the_clean_image_and_follow_their_generators():
    clean = torch.rand(2, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    model = SecondOrderLR()

    def draw(seeds):
        return model.sample(clean, generator=[torch.Generator().manual_seed(s) for s in seeds])

    first = draw([1, 2])
    assert first.shape == clean.shape
    assert (first - clean).abs().mean() > 1e-3
    assert torch.equal(first, draw([1, 2]))
    other = draw([1, 5])
    assert torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])

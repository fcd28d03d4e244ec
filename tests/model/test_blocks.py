"""The blocks compute the plain formulas: folded head convs, the level channel that is never
built, and inference over row strips all give what the layers as written give."""

import pytest
import torch
from torch.nn import functional as F

from senmvae.model import blocks
from senmvae.model.blocks import GaussianHead, ResidualDenseBlock, append_level, conv3x3


def _perturbed(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _plain_block(block: ResidualDenseBlock, x: torch.Tensor) -> torch.Tensor:
    features = [x]
    for conv in block.convs[:-1]:
        features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
    return x + 0.2 * block.convs[-1](torch.cat(features, 1))


def test_a_dense_block_is_the_plain_formula_with_its_gradients():
    block = _perturbed(ResidualDenseBlock(6, 4)).double()
    x = torch.randn(2, 6, 9, 11, dtype=torch.float64, requires_grad=True)
    ours = block(x)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), x)
    plain = _plain_block(block, x)
    (grad_plain,) = torch.autograd.grad(plain.square().sum(), x)
    torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_ours, grad_plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_level", [False, True])
def test_a_gaussian_head_is_its_two_branches_on_the_input_with_the_level_channel(with_level):
    channels = 5
    head = _perturbed(GaussianHead(channels + with_level, 3, 4)).double()
    x = torch.randn(3, channels, 7, 10, dtype=torch.float64, requires_grad=True)
    level = torch.tensor([0.01, 0.2, 1.5], dtype=torch.float64) if with_level else None
    ours = head(x, level)
    full = append_level(x, level) if with_level else x
    for got, branch in ((ours.mean, head.mean), (ours.log_sigma, head.log_sigma)):
        expected = branch(full)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(
            torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(expected.sum(), x)[0], rtol=1e-12, atol=1e-12
        )


def test_the_log_sigma_branch_runs_only_when_used():
    head = GaussianHead(4, 2, 4)
    calls = []
    run = head.log_sigma[0].run
    head.log_sigma[0].run = lambda *args: calls.append(1) or run(*args)
    dist = head(torch.randn(1, 4, 5, 5))
    _ = dist.mean
    assert not calls
    _ = dist.log_sigma
    assert calls


@pytest.mark.parametrize("height, width", [(7, 9), (1, 4), (3, 1)])
def test_a_constant_channel_is_the_conv_of_the_built_channel(height, width):
    x = torch.randn(2, 3, height, width, dtype=torch.float64)
    value = torch.tensor([0.5, -2.0], dtype=torch.float64)
    weight = torch.randn(4, 4, 3, 3, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64)
    built = torch.cat([x[:, :2], value.view(2, 1, 1, 1).expand(2, 1, height, width), x[:, 2:]], 1)
    torch.testing.assert_close(
        conv3x3(x, weight, bias, value, at=2), F.conv2d(built, weight, bias, padding=1), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("height", [128, 150, 261])
def test_inference_in_row_strips_gives_the_whole_image_result(monkeypatch, height):
    monkeypatch.setattr(blocks, "STRIP_ABOVE", 0)  # strips for any size
    block = _perturbed(ResidualDenseBlock(8, 4))
    head = _perturbed(GaussianHead(9, 2, 4), seed=1)
    x = torch.randn(2, 8, height, 13).contiguous(memory_format=torch.channels_last)
    level = torch.tensor([0.1, 0.7])
    with torch.no_grad():
        block_strips, head_strips = block(x), head(x, level)
        head_strips = (head_strips.mean, head_strips.log_sigma)
    with torch.enable_grad():  # never in strips
        block_whole, head_whole = block(x), head(x, level)
        head_whole = (head_whole.mean, head_whole.log_sigma)
    assert block_strips.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(block_strips, block_whole, rtol=1e-5, atol=1e-5)
    for strips, whole in zip(head_strips, head_whole):
        torch.testing.assert_close(strips, whole, rtol=1e-5, atol=1e-5)

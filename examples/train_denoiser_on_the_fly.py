"""Train a small denoiser on (noisy, clean) pairs that a SeNM-VAE synthesizes on the fly.

The noise model only replaces the dataset: everything else is an ordinary PyTorch loop.

    python examples/train_denoiser_on_the_fly.py --model runs/polyu --clean ../shared/data/clean/Kodak24

``--model`` is a training run folder, a .safetensors model or an official .pth checkpoint.
Every epoch draws new crops and new noise (``set_epoch``); fix ``--seed`` to replay a run.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader

from senmvae.generate import NoiseModel, SyntheticPairs


class SmallDenoiser(nn.Module):
    """A residual CNN: predicts the noise and subtracts it."""

    def __init__(self, width: int = 32, depth: int = 5):
        super().__init__()
        layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(width, 3, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return noisy - self.body(noisy)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="SeNM-VAE run folder or model file")
    parser.add_argument("--clean", required=True, help="folder of clean training images")
    parser.add_argument("--level", default="sidd", help="noise level: 0.03, 0.01:0.05, 0.01,0.02 or sidd")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    return parser


def main(argv: list[str] | None = None) -> tuple[int, float]:
    args = get_args_parser().parse_args(argv)
    torch.manual_seed(args.seed)

    # The noise model generates on its own device; the DataLoader hands the pairs over.
    noise_model = NoiseModel.load(args.model, device=args.device, level=args.level)
    pairs = SyntheticPairs(args.clean, noise_model, crop=args.crop, crops_per_image=4, seed=args.seed, augment=True)
    loader = DataLoader(pairs, batch_size=args.batch_size, shuffle=True, drop_last=True)
    if len(loader) == 0:
        raise SystemExit(f"{len(pairs)} crops per epoch is less than one batch of {args.batch_size}; add images")

    denoiser = SmallDenoiser().to(args.device)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=args.lr)
    step, epoch, recent = 0, 0, []
    while step < args.steps:
        pairs.set_epoch(epoch)
        for noisy, clean in loader:
            noisy, clean = noisy.to(args.device), clean.to(args.device)
            loss = nn.functional.mse_loss(denoiser(noisy), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            recent = (recent + [loss.item()])[-20:]
            if step % 20 == 0 or step == args.steps:
                print(f"step {step}: mse {sum(recent) / len(recent):.6f}")
            if step == args.steps:
                break
        epoch += 1
    return step, sum(recent) / len(recent)


if __name__ == "__main__":
    main()

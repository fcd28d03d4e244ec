"""Ours against the plain reference path (the authors' computation), same weights, one process.

For each model preset, with one set of random weights (every tensor perturbed, so that no
zero-initialised branch is trivially skipped):

* checks that the library and :mod:`reference_path` give the same outputs (generation with
  the same latent draws; training-step losses and every gradient with the same draws);
* generation: ``NoiseModel.sample`` (the library's path: tiles of the default size, position-
  fixed latent noise) against the plain path over the whole image, temperature 1, for each
  ``--sizes``; megapixels per second, and GFLOP/s achieved (convolution FLOPs each path does,
  counted by ``torch.utils.flop_counter``) against the matmul peak measured in this process;
* the VAE training step (forward, reconstruction and KL terms with the official weights,
  backward) on a mixed batch, ``SeNMVAE.forward`` against the plain path that runs every
  branch for every sample.

Timed runs are interleaved (ours, plain, plain, ours, ...) after one warm-up each; medians.

    OMP_NUM_THREADS=1 python benchmarks/side_by_side.py                       # both, paper and cpu
    OMP_NUM_THREADS=1 python benchmarks/side_by_side.py --part train --presets cpu --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from reference_path import PlainSeNMVAE
from senmvae.domain import Domain
from senmvae.generate import NoiseModel
from senmvae.generate.latents import LatentField, field_supply
from senmvae.generate.tiling import tile_layout
from senmvae.model import MODEL_PRESETS, SeNMVAE, model_preset
from senmvae.model.config import ModelConfig

KL_ZN_WEIGHT, KL_Z_WEIGHT = 1e-2, 1e-2 * 1e-7  # the official weights after the KL warm-up
DOMAINS = {"P": Domain.PAIRED, "S": Domain.SOURCE, "T": Domain.TARGET}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("both", "generate", "train"), default="both")
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"], choices=sorted(MODEL_PRESETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 1024], help="generation image sides")
    parser.add_argument("--domains", default="PPPSSSTT", help="training batch: P paired, S clean-only, T noisy-only")
    parser.add_argument("--crop", type=int, default=64, help="training crop side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    return parser


def official_architecture(preset: str) -> ModelConfig:
    """The preset's sizes in the authors' architecture (no additions beyond the paper's network)."""
    cfg = model_preset(preset)
    sizes = ("in_channels", "channels", "growth", "levels_per_group", "zn_channels", "num_down", "level_predictor")
    return ModelConfig(**{name: getattr(cfg, name) for name in sizes})


def perturbed_model(preset: str) -> SeNMVAE:
    torch.manual_seed(0)
    model = SeNMVAE(official_architecture(preset))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    return model


def plain_of(model: SeNMVAE, trainable: bool = False) -> PlainSeNMVAE:
    params = {k: v.detach().clone().requires_grad_(trainable) for k, v in model.state_dict().items()}
    return PlainSeNMVAE(model.config, params)


def matmul_peak() -> float:
    """GFLOP/s of a 2048 x 2048 float32 matmul, best of 5."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best = min(_seconds(lambda: a @ b)[1] for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def conv_peak() -> float:
    """GFLOP/s of the best-shaped convolution of these networks (oneDNN, channels-last), best of 5."""
    x = torch.randn(1, 128, 128, 128).contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 128, 3, 3)
    with torch.inference_mode():
        F.conv2d(x, w, padding=1)
        best = min(_seconds(lambda: F.conv2d(x, w, padding=1))[1] for _ in range(5))
    return 2 * 128 * 128 * 9 * 128 * 128 / best / 1e9


def _seconds(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, process CPU) seconds of ``fn()``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - start_cpu


def interleaved(ours: Callable[[], object], plain: Callable[[], object], repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``ours`` and ``plain`` (keys ``ours``, ``plain``, ``ours_cpu``,
    ``plain_cpu``), after a warm-up each, alternating which goes first. With one thread on a
    machine shared with other jobs, CPU time is what a quiet machine would take."""
    ours(), plain()
    times: dict[str, list[float]] = {"ours": [], "plain": [], "ours_cpu": [], "plain_cpu": []}
    for r in range(repeats):
        order = (("ours", ours), ("plain", plain)) if r % 2 == 0 else (("plain", plain), ("ours", ours))
        for name, fn in order:
            wall, cpu = _seconds(fn)
            times[name].append(wall)
            times[f"{name}_cpu"].append(cpu)
    return {name: statistics.median(values) for name, values in times.items()}


def conv_flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


# ---------------------------------------------------------------------- generation
def generation(preset: str, sizes: list[int], repeats: int, peak: float) -> None:
    model = perturbed_model(preset).eval()
    noise_model = NoiseModel(model, level=0.03)
    plain = plain_of(model)
    side = 4 * model.config.size_multiple * 4

    def supply_of(generator: torch.Generator, height: int):
        # What NoiseModel draws for an image: a key for its latent field, then (here) no level.
        key = int(torch.randint(0, 2**62, (), generator=generator))
        return field_supply([LatentField(key)], 0, 0, height)

    with torch.inference_mode():
        clean = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(2))
        gens = [torch.Generator().manual_seed(s) for s in (3, 4)]
        ours = noise_model.sample(clean, level=[0.03, 0.05], generator=gens)
        level = torch.tensor([0.03, 0.05])
        reference = torch.cat(
            [plain.sample(clean[i : i + 1], level[i : i + 1], supply_of(torch.Generator().manual_seed(s), side))
             for i, s in enumerate((3, 4))]
        )  # fmt: skip
        error = float((ours - reference).abs().max() / reference.abs().max())
        assert error < 1e-5, f"{preset}: ours and the plain path differ by {error:.2e} (relative max abs)"
        # Counted on 128 x 128, where the few FLOPs that do not grow with the image (folding the
        # head weights) are well below 1 %, and scaled by the pixels each path computes.
        probe = torch.rand(1, 3, 128, 128)
        probe_supply = supply_of(torch.Generator().manual_seed(5), 128)
        per_pixel_ours = conv_flops(lambda: model.sample(probe, 0.03, noise=probe_supply)) / 128**2
        per_pixel_plain = conv_flops(lambda: plain.sample(probe, torch.tensor([0.03]), probe_supply)) / 128**2

    for size in sizes:
        tile, starts = tile_layout(size, noise_model.tile_size, noise_model.tile_overlap, model.config.size_multiple)
        t = time_generation(noise_model, plain, size, supply_of(torch.Generator().manual_seed(7), size), repeats)
        megapixels = size * size / 1e6
        flops = {"ours": per_pixel_ours * tile * tile * len(starts) ** 2, "plain": per_pixel_plain * size * size}
        print(
            f"{preset:<6} {size:>5} {len(starts) ** 2:>3}x{tile:<4} "
            + seconds_cells(t)
            + " "
            + " ".join(f"{megapixels / t[k + '_cpu']:>8.4f}" for k in ("ours", "plain"))
            + " "
            + gflops_cells(flops, t, peak)
            + f" {t['plain'] / t['ours']:>5.2f}x {t['plain_cpu'] / t['ours_cpu']:>5.2f}x",
            flush=True,
        )  # fmt: skip


def seconds_cells(t: dict[str, float]) -> str:
    """Wall and CPU seconds of both paths."""
    return " ".join(f"{t[k]:>7.2f} {t[k + '_cpu']:>7.2f}" for k in ("ours", "plain"))


def gflops_cells(flops: dict[str, float], t: dict[str, float], peak: float) -> str:
    """GFLOP/s per CPU-second of both paths, and their share of the matmul peak."""
    rates = {k: flops[k] / t[k + "_cpu"] / 1e9 for k in ("ours", "plain")}
    return " ".join(f"{rates[k]:>6.1f} ({100 * rates[k] / peak:>3.0f}%)" for k in ("ours", "plain"))


def time_generation(noise_model: NoiseModel, plain: PlainSeNMVAE, size: int, supply, repeats: int) -> dict[str, float]:
    clean = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(6))
    level = torch.tensor([0.03])
    with torch.inference_mode():
        return interleaved(
            lambda: noise_model.sample(clean, generator=torch.Generator().manual_seed(7)),
            lambda: plain.sample(clean, level, supply),
            repeats,
        )


# ---------------------------------------------------------------------- training
def training_batch(domains: str, crop: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(8)
    clean = torch.rand(len(domains), 3, crop, crop, generator=g)
    noisy = clean + 0.03 * torch.randn(clean.shape, generator=g)
    domain = torch.tensor([int(DOMAINS[d]) for d in domains])
    level = torch.where(domain == Domain.SOURCE, 0.0, 0.03)
    return {"clean": clean, "noisy": noisy, "domain": domain, "level": level}


def loss_of(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    mean = {k: v.mean() if v.numel() else v.new_zeros(()) for k, v in terms.items()}
    return mean["rec_clean"] + mean["rec_noisy"] + KL_ZN_WEIGHT * mean["kl_zn"] + KL_Z_WEIGHT * mean["kl_z"]


def seeded(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def ours_terms(model: SeNMVAE, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    out = model(batch["clean"], batch["noisy"], batch["domain"], batch["level"], generator=generator)
    return {
        "rec_clean": (out.recon_clean - batch["clean"][out.clean_rows]).pow(2).flatten(1).mean(1),
        "rec_noisy": (out.recon_noisy - batch["noisy"][out.noisy_rows]).pow(2).flatten(1).mean(1),
        "kl_zn": torch.stack(out.kl_zn).sum(0),
        "kl_z": torch.stack(out.kl_z).sum(0),
    }


def plain_terms(
    plain: PlainSeNMVAE, batch: dict[str, torch.Tensor], generator: torch.Generator
) -> dict[str, torch.Tensor]:
    return plain.training_terms(**batch, generator=generator)


def check_training(preset: str, domains: str) -> float:
    """Largest relative difference of the loss and of any parameter's gradient (L2 norm of the
    difference over the norm of the gradient) between ours and the plain path, in float64 so
    that only the mathematics is compared (in float32, rounding moves a few pre-activations
    across 0, where LeakyReLU's slope jumps, and on a small batch that can be a visible part of
    a small gradient)."""
    model = perturbed_model(preset).double().train()
    plain = plain_of(model, trainable=True)
    batch = {k: v.double() if v.is_floating_point() else v for k, v in training_batch(domains, 8).items()}
    ours_loss = loss_of(ours_terms(model, batch, seeded(9)))
    ours_loss.backward()
    plain_loss = loss_of(plain_terms(plain, batch, seeded(9)))
    plain_loss.backward()
    worst = float((ours_loss - plain_loss).detach().abs() / plain_loss.detach().abs())
    for name, p in model.named_parameters():
        theirs = plain.p[name].grad
        if not name.startswith("level_predictor.") and theirs.any():
            mine = p.grad if p.grad is not None else torch.zeros_like(p)
            worst = max(worst, float((mine - theirs).norm() / theirs.norm()))
    return worst


def training(preset: str, domains: str, crop: int, repeats: int, peak: float) -> None:
    error = check_training(preset, domains)
    assert error < 1e-9, f"{preset}: training losses or gradients differ by {error:.2e} (relative, float64)"
    model = perturbed_model(preset).train()
    plain = plain_of(model, trainable=True)
    batch = training_batch(domains, crop)

    def step(compute_loss: Callable[[], torch.Tensor], params) -> None:
        compute_loss().backward()
        for p in params:
            p.grad = None

    run_ours = lambda: step(lambda: loss_of(ours_terms(model, batch, seeded(10))), model.parameters())  # noqa: E731
    run_plain = lambda: step(lambda: loss_of(plain_terms(plain, batch, seeded(10))), plain.p.values())  # noqa: E731
    small = training_batch(domains, max(crop // 2, 4 * model.config.size_multiple))  # FLOPs counted on half crops
    scale = (crop / small["clean"].shape[-1]) ** 2
    flops_ours = scale * conv_flops(lambda: loss_of(ours_terms(model, small, seeded(10))).backward())
    flops_plain = scale * conv_flops(lambda: loss_of(plain_terms(plain, small, seeded(10))).backward())
    for p in (*model.parameters(), *plain.p.values()):
        p.grad = None
    t = interleaved(run_ours, run_plain, repeats)
    flops = {"ours": flops_ours, "plain": flops_plain}
    print(
        f"{preset:<6} "
        + seconds_cells(t)
        + " "
        + gflops_cells(flops, t, peak)
        + f" {t['ours'] / t['plain']:>5.2f}x {t['ours_cpu'] / t['plain_cpu']:>5.2f}x {error:>9.1e}",
        flush=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = get_args_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; {args.repeats} interleaved repeats, medians\n"
        f"float32 peaks (GFLOP/s per CPU-second, best of 5): matmul 2048^2 {peak:.0f}; "
        f"3x3 conv 128->128 channels at 128^2, channels-last {conv_peak():.0f}"
    )
    if args.part in ("both", "generate"):
        print(
            "\ngeneration at temperature 1 (ours: NoiseModel.sample; plain: the whole image at once): wall and CPU "
            "seconds; MP/s and GFLOP/s (% of the matmul peak) per CPU-second; speed-up plain/ours, wall and CPU"
        )
        print(f"{'preset':<6} {'size':>5} {'tiles':<8} {'ours s':>7} {'cpu s':>7} {'plain s':>7} {'cpu s':>7} "
              f"{'MP/s':>8} {'plain':>8} {'GFLOP/s':>12} {'plain':>12} {'speed-up':>13}")  # fmt: skip
        for preset in args.presets:
            generation(preset, args.sizes, args.repeats, peak)
    if args.part in ("both", "train"):
        print(
            f"\nVAE training step, batch {args.domains} of {args.crop}x{args.crop} (forward, losses, backward): wall "
            "and CPU seconds; GFLOP/s per CPU-second; time ours/plain, wall and CPU; largest relative difference"
        )
        print(f"{'preset':<6} {'ours s':>7} {'cpu s':>7} {'plain s':>7} {'cpu s':>7} {'GFLOP/s':>12} {'plain':>12} "
              f"{'ours/plain':>12} {'check':>9}")  # fmt: skip
        for preset in args.presets:
            training(preset, args.domains, args.crop, args.repeats, peak)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""GPU readiness in one run of under 5 minutes: the CUDA tests, the ``paper`` training step and
generation speed, printed as one table. Without a CUDA device it says so and exits 0.

On the first CUDA device:

* runs the CUDA test files (:data:`CUDA_TESTS`; they skip themselves without CUDA);
* times the VAE training step of the ``paper`` preset (forward, reconstruction and KL terms,
  backward; batch ``PPPSSSTT`` of 64 x 64, as :mod:`side_by_side`) in float32 and under bfloat16
  autocast, against the plain path (:mod:`reference_path`) in float32;
* times generation of 1024 x 1024 and 4096 x 4096 images (``NoiseModel``, default tiles), and
  the plain path on the whole 1024 x 1024 image;
* reports the peak allocated GPU memory of every part.

Parts that would start after ``--budget`` seconds are listed as not run.

    python benchmarks/gpu_check.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from senmvae.generate import NoiseModel
from senmvae.generate.tiling import tile_layout
from side_by_side import loss_of, ours_terms, perturbed_model, plain_of, plain_terms, seeded, training_batch

ROOT = Path(__file__).resolve().parents[1]
CUDA_TESTS = ("tests/model/test_cuda.py", "tests/generate/test_cuda.py")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=270.0, help="seconds after which no new part starts")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per case, after 2 warm-ups")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1024, 4096], help="generation image sides")
    return parser


def timed(fn: Callable[[], object], repeats: int, warmups: int = 2) -> tuple[float, float]:
    """(median seconds, peak allocated MiB) of ``fn`` on the current CUDA device."""
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), torch.cuda.max_memory_allocated() / 2**20


def run_tests(timeout: float) -> tuple[str, str, str]:
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CUDA_TESTS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "CUDA tests", " ".join(CUDA_TESTS), f"timed out after {timeout:.0f} s"
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else done.stderr.strip()[-200:]
    return (
        "CUDA tests",
        " ".join(CUDA_TESTS),
        f"{summary} (exit {done.returncode}, {time.perf_counter() - start:.0f} s)",
    )


def training_rows(device: torch.device, repeats: int) -> list[tuple[str, str, str, str]]:
    model = perturbed_model("paper").to(device).train()
    plain = plain_of(model, trainable=True)
    batch = {k: v.to(device) for k, v in training_batch("PPPSSSTT", 64).items()}

    def step(terms: Callable[[], dict[str, torch.Tensor]], params, dtype: torch.dtype | None = None) -> None:
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            loss = loss_of(terms())
        loss.backward()
        for p in params:
            p.grad = None

    def ours(dtype=None):
        return lambda: step(lambda: ours_terms(model, batch, seeded(0, device)), model.parameters(), dtype)

    plain_s, plain_mib = timed(
        lambda: step(lambda: plain_terms(plain, batch, seeded(0, device)), plain.p.values()), repeats
    )
    rows = []
    for label, dtype in (("float32", None), ("bfloat16 autocast", torch.bfloat16)):
        seconds, mib = timed(ours(dtype), repeats)
        rows.append(
            (
                f"training step paper, {label}",
                "batch PPPSSSTT of 64x64",
                f"{1e3 * seconds:.1f} ms; plain float32 {1e3 * plain_s:.1f} ms ({seconds / plain_s:.2f}x)",
                f"{mib:.0f} (plain {plain_mib:.0f})",
            )
        )
    return rows


def generation_rows(device: torch.device, sizes: list[int], repeats: int, deadline: float) -> list[tuple[str, ...]]:
    model = perturbed_model("paper").eval()
    plain = plain_of(model)
    noise_model = NoiseModel(model, level=0.03, device=device)
    plain.p = {k: v.to(device) for k, v in plain.p.items()}
    level = torch.tensor([0.03], device=device)
    rows = []
    for size in sizes:
        if time.monotonic() > deadline:
            rows.append((f"generation paper {size}x{size}", "", "not run (time budget)", ""))
            continue
        clean = torch.rand(1, 3, size, size, generator=seeded(1))
        tile, starts = tile_layout(size, noise_model.tile_size, noise_model.tile_overlap, model.config.size_multiple)
        with torch.inference_mode():
            # past 1024 one run (the 1024 case has warmed up the same kernels)
            small = size <= 1024
            run = lambda c=clean: noise_model.sample(c, generator=seeded(2))  # noqa: E731
            seconds, mib = timed(run, repeats if small else 1, 2 if small else 0)
            result = f"{size * size / 1e6 / seconds:.2f} MP/s ({seconds:.2f} s)"
            if small:
                on_device = clean.to(device)
                plain_s, plain_mib = timed(lambda c=on_device: plain.sample(c, level, _device_noise), repeats)
                result += f"; plain, whole image, noise drawn on the GPU {size * size / 1e6 / plain_s:.2f} MP/s"
                result += f" (ours {plain_s / seconds:.2f}x)"
                mib = f"{mib:.0f} (plain {plain_mib:.0f})"
            else:
                mib = f"{mib:.0f}"
        rows.append((f"generation paper {size}x{size}", f"{len(starts) ** 2} tiles of {tile}", result, mib))
    return rows


def _device_noise(index: int, name: str, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(like.shape, device=like.device, dtype=like.dtype)


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing was run (skipped)")
        return 0
    deadline = time.monotonic() + args.budget
    device = torch.device("cuda")
    props = torch.cuda.get_device_properties(device)
    print(
        f"{props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__}, CUDA {torch.version.cuda}; "
        f"cuDNN TF32 {torch.backends.cudnn.allow_tf32}, matmul TF32 {torch.backends.cuda.matmul.allow_tf32}"
    )
    rows: list[tuple[str, ...]] = [run_tests(timeout=max(30.0, min(150.0, deadline - time.monotonic())))]
    parts = (
        lambda: training_rows(device, args.repeats),
        lambda: generation_rows(device, args.sizes, args.repeats, deadline),
    )
    for part in parts:
        if time.monotonic() > deadline:
            rows.append(("(remaining parts)", "", "not run (time budget)", ""))
            break
        rows += part()
    header = ("part", "setting", "result", "peak GPU MiB")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(4)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(f"{str(cell):<{w}}" for cell, w in zip(row, widths)) + " |")
    failed = "exit 0" not in rows[0][2]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Generation speed and peak memory of SeNM-VAE, per model preset and image size.

Each case runs in its own process (so that its peak memory is its own): a model of the
preset (random weights unless --model is given; speed does not depend on the weights),
one warm-up sample, then ``--repeats`` timed samples of one size x size image. Prints,
per case: tiles per image, median seconds, megapixels per second (wall clock), megapixels
per CPU-second (less sensitive to other processes sharing the CPU), and peak memory (peak
resident set size of the process on CPU; peak allocated GPU memory on CUDA).

    python benchmarks/synthesize.py                                   # paper and cpu, 256 and 1024
    python benchmarks/synthesize.py --presets paper --sizes 4096      # the 4096 x 4096 case
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from senmvae.generate import NoiseModel
from senmvae.generate.tiling import pad_to_multiple, tile_layout
from senmvae.model import MODEL_PRESETS, SeNMVAE, model_preset


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["paper", "cpu"], choices=sorted(MODEL_PRESETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 1024])
    parser.add_argument("--model", help="time this model file instead of a preset (then --presets is ignored)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tile-size", type=int, default=None, help="default: NoiseModel's")
    parser.add_argument("--tile-overlap", type=int, default=None, help="default: NoiseModel's")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--exact", action="store_true", help="time the exact (deterministic kernels) mode")
    parser.add_argument("--case", nargs=2, metavar=("PRESET", "SIZE"), help=argparse.SUPPRESS)
    return parser


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def run_case(args: argparse.Namespace, preset: str, size: int) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"level": 0.03, "device": args.device, "exact": args.exact}
    if args.tile_size:
        options["tile_size"] = args.tile_size
    if args.tile_overlap is not None:
        options["tile_overlap"] = args.tile_overlap
    if args.model:
        model = NoiseModel.load(args.model, **options)
    else:
        model = NoiseModel(SeNMVAE(model_preset(preset)), **options)
    cuda = model.device.type == "cuda"
    generator = torch.Generator().manual_seed(0)
    model.sample(torch.rand(1, 3, 64, 64, generator=generator), generator=generator)
    clean = torch.rand(1, 3, size, size, generator=generator)
    padded = pad_to_multiple(clean, model.network.config.size_multiple).shape[-1]
    multiple = model.network.config.size_multiple
    tiles = len(tile_layout(padded, model.tile_size, model.tile_overlap, multiple)[1]) ** 2
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss_before = _current_rss_mib()
    times, cpu_times = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        model.sample(clean, generator=generator)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    megapixels = size * size / 1e6
    seconds = statistics.median(times)
    return {
        "preset": preset if not args.model else args.model,
        "size": size,
        "tiles": tiles,
        "tile_size": model.tile_size,
        "seconds": seconds,
        "mp_per_s": megapixels / seconds,
        "mp_per_cpu_s": megapixels / statistics.median(cpu_times),
        "rss_before_mib": rss_before,
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else _peak_rss_mib(),
        "memory": "peak CUDA allocated" if cuda else "peak RSS",
        "threads": torch.get_num_threads(),
        "device": str(model.device),
    }


def main(argv: list[str] | None = None) -> None:
    args = get_args_parser().parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args, args.case[0], int(args.case[1]))))
        return
    passthrough = list(argv if argv is not None else sys.argv[1:])
    presets = [args.model] if args.model else args.presets
    widths = (("model", "<8"), ("size", ">6"), ("tiles", ">5"), ("seconds", ">9"), ("MP/s", ">8"),
              ("MP/CPU-s", ">9"), ("peak MiB", ">9"), ("before", ">7"))  # fmt: skip
    header = " ".join(f"{name:{width}}" for name, width in widths)
    print(header)
    for preset in presets:
        for size in args.sizes:
            cmd = [sys.executable, __file__, *passthrough, "--case", preset, str(size)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{preset:<8} {size:>6} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{str(r['preset'])[:8]:<8} {size:>6} {r['tiles']:>5} {r['seconds']:>9.2f} {r['mp_per_s']:>8.4f} "
                f"{r['mp_per_cpu_s']:>9.4f} {r['peak_mib']:>9.0f} {r['rss_before_mib']:>7.0f}",
                flush=True,
            )
    print(
        f"device {args.device}; memory: peak RSS of the process (CPU) or peak CUDA allocation; "
        f"'before': RSS after loading and warm-up; tiles of {args.tile_size or 'default'} px"
    )


if __name__ == "__main__":
    main()

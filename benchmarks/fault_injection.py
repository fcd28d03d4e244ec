"""Do the tests notice a broken model? Each fault below is one small deliberate bug; for each, a copy of
``src`` gets that bug alone and the test files meant to catch it run against the copy. A fault whose tests
all pass is a gap in the suite, and the script exits 1.

    python benchmarks/fault_injection.py              # every fault, about 2-3 minutes on one core
    python benchmarks/fault_injection.py mixture_inverted kl_z_direction

Each fault is an exact text replacement in one file; when the code changes so that a fault's text is gone,
the script says so (exit 2) and the fault needs updating. The copy is imported through PYTHONPATH ahead of
the installed package; the script checks that the tests import it from the copy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    file: str  # under src/senmvae
    old: str
    new: str
    tests: tuple[str, ...]


FAULTS = (
    Fault(
        "content_exact_samples_z",
        "content-exact draws z from q(z|x) instead of taking its mean",
        "model/network.py",
        "z_temperature=0.0 if content_exact else None,",
        "z_temperature=None,",
        ("tests/generate/test_content_exact.py",),
    ),
    Fault(
        "kl_z_direction",
        "KL(q(z|x) || q(z|y)) instead of KL(q(z|y) || q(z|x))",
        "model/network.py",
        "stats.kl_z = q_noisy.index(both).kl(q_clean.index(both))",
        "stats.kl_z = q_clean.index(both).kl(q_noisy.index(both))",
        ("tests/model/test_objective.py",),
    ),
    Fault(
        "kl_zn_direction",
        "KL(p(zn|z) || q(zn|y,z)) instead of KL(q(zn|y,z) || p(zn|z))",
        "model/network.py",
        "stats.kl_zn = posterior.kl(prior)",
        "stats.kl_zn = prior.kl(posterior)",
        ("tests/model/test_objective.py",),
    ),
    Fault(
        "mixture_inverted",
        "paired rows take q(z|y) where they should take q(z|x) and the other way round",
        "model/network.py",
        "torch.where(pick, z_clean[:n_both], z_noisy[:n_both])",
        "torch.where(pick, z_noisy[:n_both], z_clean[:n_both])",
        ("tests/model/test_objective.py",),
    ),
    Fault(
        "mixture_probability_inverted",
        "q(z|x) drawn with probability 1 - p_clean",
        "model/network.py",
        "device=clean.device) < p_clean",
        "device=clean.device) >= p_clean",
        ("tests/model/test_objective.py",),
    ),
    Fault(
        "level_scale_ignored",
        "the zn heads see the level without model.level_scale",
        "model/network.py",
        "level = stream.level * self.level_scale",
        "level = stream.level",
        ("tests/model/test_recipe_init.py",),
    ),
    Fault(
        "reconstruct_samples_z",
        "reconstruct draws z from q(z|x) instead of taking its mean",
        "model/network.py",
        "clean_acts=self.clean_encoder(padded), noisy_acts=None, temperature=0.0)",
        "clean_acts=self.clean_encoder(padded), noisy_acts=None, temperature=1.0)",
        ("tests/model/test_network.py",),
    ),
    Fault(
        "akld_border_replicated",
        "AKLD's local variance repeats the edge pixel at the border instead of reflecting",
        "metrics/kl.py",
        'squared = F.pad((noisy - clean) ** 2, (pad, pad, pad, pad), mode="reflect")',
        'squared = F.pad((noisy - clean) ** 2, (pad, pad, pad, pad), mode="replicate")',
        ("tests/metrics/test_kl.py",),
    ),
    Fault(
        "akld_box_window",
        "AKLD's local variance over a 7x7 box instead of OpenCV's 7-tap Gaussian table",
        "metrics/kl.py",
        "DANET_WINDOW_1D = (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125)",
        "DANET_WINDOW_1D = (1 / 7,) * 7",
        ("tests/metrics/test_kl.py",),
    ),
    Fault(
        "pixel_variance_without_zn",
        "the pixel-noise likelihood leaves zn's part out of the variance of the real noise",
        "model/objective.py",
        "log_variance = torch.logaddexp(2 * pixel.log_sigma, zn_part.pow(2).clamp_min(1e-12).log())",
        "log_variance = 2 * pixel.log_sigma",
        ("tests/model/test_pixel_noise.py", "tests/model/test_pixel_terms.py"),
    ),
    Fault(
        "pixel_calibration_zeroed",
        "the calibration term of the pixel-noise head is zero",
        "model/objective.py",
        "return nll, (predicted.log() - actual.log()).pow(2).mean()",
        "return nll, 0.0 * (predicted.log() - actual.log()).pow(2).mean()",
        ("tests/model/test_pixel_noise.py", "tests/model/test_pixel_terms.py"),
    ),
    Fault(
        "pixel_calibration_not_in_loss",
        "the calibration term is reported but left out of the loss",
        "model/objective.py",
        'loss = loss + cfg.pixel_noise_weight * (terms["pixel_nll"] + terms["pixel_calibration"])',
        'loss = loss + cfg.pixel_noise_weight * terms["pixel_nll"]',
        ("tests/model/test_pixel_noise.py", "tests/model/test_pixel_terms.py"),
    ),
    *(
        Fault(
            f"synthesize_ignores_{key}",
            f"synthesize leaves {key} out of the settings a folder is checked against",
            "generate/synthesize.py",
            f'"{key}": {value},',
            "",
            ("tests/generate/test_synthesize_settings.py",),
        )
        for key, value in (
            ("sampler", "model.sampler"),
            ("temperature", "model.temperature"),
            ("model_sha256", "file_sha256(Path(model.source)) if model.source else None"),
            ("tile_size", "model.tile_size"),
            ("bits", "bits"),
        )
    ),
)


def run_fault(fault: Fault, workdir: Path) -> tuple[bool, list[str], str]:
    """(caught, failed test ids, pytest's last line) of ``fault`` injected into a copy of src under workdir."""
    copy = workdir / fault.name / "src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    target = copy / "senmvae" / fault.file
    text = target.read_text()
    if text.count(fault.old) != 1:
        raise SystemExit(f"{fault.name}: the text to replace is not in src/senmvae/{fault.file} exactly once")
    target.write_text(text.replace(fault.old, fault.new))
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import senmvae; print(senmvae.__file__)"], env=env, capture_output=True, text=True
    ).stdout.strip()
    if not where.startswith(str(copy)):
        raise SystemExit(f"{fault.name}: senmvae imports from {where}, not from the faulty copy")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", *fault.tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, flags=re.MULTILINE)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr.strip()[-200:]
    return result.returncode != 0, failed, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="faults to inject (default: all)")
    args = parser.parse_args(argv)
    known = {f.name: f for f in FAULTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(FAULTS)
    missed = []
    with tempfile.TemporaryDirectory(prefix="senmvae-faults-") as workdir:
        for fault in chosen:
            caught, failed, last = run_fault(fault, Path(workdir))
            print(f"{'caught' if caught else 'MISSED'}  {fault.name}: {fault.what}")
            print(f"        {' '.join(fault.tests)}: {last}")
            for test in failed:
                print(f"        failed: {test}")
            if not caught:
                missed.append(fault.name)
    summary = f"{len(chosen) - len(missed)} of {len(chosen)} faults caught"
    print(summary + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

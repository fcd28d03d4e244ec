"""``senmvae train``: train SeNM-VAE from a preset, a YAML config and overrides, or resume a run.

Settings are layered: --preset (default paper), then --config FILE.yaml, then the shortcut
flags (--data, --paired, --steps, --seed, --device), then every --set KEY=VALUE.
Under ``torchrun --nproc-per-node N senmvae train ...`` the run is data-parallel
(DistributedDataParallel, gloo on CPU, NCCL on GPU); ``data.batch_size`` is the global batch.
"""

from __future__ import annotations

import argparse

from senmvae.errors import UserError
from senmvae.model.io import MODEL_FILE
from senmvae.train.config import TRAIN_PRESETS, resolve_config
from senmvae.train.run import resume_run, start_run

# flag -> (section, key) of the setting it sets
SHORTCUTS = {
    "data": ("data", "spec"),
    "paired": ("data", "paired"),
    "steps": ("schedule", "steps"),
    "seed": (None, "seed"),
    "device": (None, "device"),
}
RESUME_FORBIDDEN = ("out", "preset", "config", "data", "paired", "seed", "device")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train SeNM-VAE on a semi-supervised dataset (or resume a run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--preset", choices=sorted(TRAIN_PRESETS), help="base settings (default: paper)")
    parser.add_argument("--config", metavar="FILE.yaml", help="settings on top of the preset (examples in configs/)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, applied last (repeatable), e.g. --set optim.ema_decay=0.999",
    )
    parser.add_argument("--out", metavar="RUN", help="run folder to create (absent or empty)")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its newest checkpoint")
    parser.add_argument("--data", metavar="SPEC", help="dataset folder, split manifest, YAML spec or 'default'")
    parser.add_argument("--paired", type=int, metavar="N", help="split a paired collection, keeping N pairs paired")
    parser.add_argument("--steps", type=int, metavar="N", help="number of training steps")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--device", help="auto (default: cuda when available), cpu, cuda or cuda:N")
    parser.set_defaults(func=run)


def _shortcut_settings(args: argparse.Namespace) -> dict:
    settings: dict = {}
    for flag, (section, key) in SHORTCUTS.items():
        value = getattr(args, flag)
        if value is not None:
            (settings.setdefault(section, {}) if section else settings)[key] = value
    return settings


def run(args: argparse.Namespace) -> int:
    if args.resume:
        given = [f"--{flag}" for flag in RESUME_FORBIDDEN if getattr(args, flag) is not None]
        if given:
            raise UserError(
                f"--resume continues a run with its own settings; drop {', '.join(given)} "
                "(--steps and --set are allowed)"
            )
        steps = [f"schedule.steps={args.steps}"] if args.steps is not None else []
        trainer = resume_run(args.resume, steps + args.overrides)
        run_dir = args.resume
    else:
        if not args.out:
            raise UserError("give the run folder to create with --out RUN (or continue one with --resume RUN)")
        cfg = resolve_config(args.preset, args.config, args.overrides, _shortcut_settings(args))
        trainer = start_run(cfg, args.out)
        run_dir = args.out
    if trainer.rank == 0:
        print(f"trained {trainer.step} steps; run folder {run_dir}, model {run_dir}/{MODEL_FILE}")
    return 0

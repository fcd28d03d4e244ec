"""Export a finished training run as a shipped pretrained model (float16 safetensors).

    python scripts/export_pretrained.py /work/pretrain/base-run base

Writes ``src/senmvae/pretrained/NAME.safetensors`` with the run's model config and training
facts in its metadata, and prints how much storing float16 changes the model's output (the
largest change of a content-exact sample on a test image, in 8-bit units) so that the card can
say what the smaller file costs. The model card (``NAME.md``) is written by hand beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml

from senmvae.generate import NoiseModel
from senmvae.model.io import MODEL_FILE, load_model, read_metadata, save_model
from senmvae.train.run import CONFIG_NAME
from senmvae.train.run_log import METRICS_NAME, read_metrics, training_seconds

PRETRAINED = Path(__file__).resolve().parents[1] / "src" / "senmvae" / "pretrained"


def output_change(reference, candidate) -> float:
    g = np.random.default_rng(0)
    clean = torch.from_numpy(g.uniform(0.1, 0.9, (1, 3, 128, 128)).astype(np.float32))
    clean = torch.nn.functional.avg_pool2d(clean, 5, 1, 2)  # some structure
    outputs = []
    for network in (reference, candidate):
        model = NoiseModel(network, level=0.02, sampler="content-exact", exact=True)
        outputs.append(model.sample(clean, generator=torch.Generator().manual_seed(0)))
    return float((outputs[0] - outputs[1]).abs().max() * 255.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="finished training run folder")
    parser.add_argument("name", help="pretrained name (base, polyu)")
    args = parser.parse_args()
    source = args.run / MODEL_FILE
    metadata = read_metadata(source)
    seconds = training_seconds(read_metrics(args.run / METRICS_NAME))
    reference = load_model(source)
    target = PRETRAINED / f"{args.name}.safetensors"
    facts = {
        "pretrained": args.name,
        "step": metadata.get("step", "?"),
        "training_minutes": f"{seconds / 60:.1f}",
        # the level it was conditioned on decides how synthesis matches the asked level (NoiseModel)
        "level": yaml.safe_load((args.run / CONFIG_NAME).read_text())["data"]["level"],
    }
    save_model(reference, target, extra_metadata=facts, dtype=torch.float16)
    change = output_change(reference, load_model(target))
    print(
        f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB, float16) from {source} "
        f"({source.stat().st_size / 1e6:.2f} MB); step {facts['step']}, {facts['training_minutes']} training minutes"
    )
    print(f"largest change of a content-exact sample from storing float16: {change:.4f} (8-bit units)")


if __name__ == "__main__":
    main()

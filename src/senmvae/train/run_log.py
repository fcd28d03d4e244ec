"""Run logs: ``metrics.jsonl`` (one JSON object per line) and TensorBoard event files.

On resume from step S, lines and events after S are dropped first, so the logs of a
resumed run read like those of an uninterrupted one.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from senmvae.atomic import write_text_atomic

METRICS_NAME = "metrics.jsonl"


def read_metrics(path: str | Path) -> list[dict]:
    """The complete lines of a metrics file (a line cut short by a kill is ignored)."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def training_seconds(records: list[dict]) -> float:
    """Wall-clock seconds of the logged training steps: each train line's mean step time times
    the steps since the line before it."""
    train = [r for r in records if r.get("kind") == "train"]
    previous = [0] + [r["step"] for r in train[:-1]]
    return sum(r["seconds_per_step"] * (r["step"] - before) for before, r in zip(previous, train))


class MetricsLog:
    """Appends ``{"step", "kind", ...values}`` lines; mirrors scalars and images to TensorBoard."""

    def __init__(self, run_dir: str | Path, start_step: int = 0, tensorboard: bool = True):
        self.path = Path(run_dir) / METRICS_NAME
        kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= start_step]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._file = open(self.path, "a")
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("tensorboard is not installed: no event files (pip install tensorboard)", stacklevel=2)
            else:
                self._writer = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start_step + 1)

    def write(self, step: int, kind: str, values: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, "kind": kind, **values}) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(f"{kind}/{key}", value, step)

    def image(self, tag: str, step: int, image: np.ndarray) -> None:
        """``image``: float (H, W, 3) in [0, 1]."""
        if self._writer is not None:
            self._writer.add_image(tag, image, step, dataformats="HWC")

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(os.environ.get("SENMVAE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
OFFICIAL_FIXTURE = SHARED / "fixtures" / "official_senmvae"
POLYU = SHARED / "data" / "polyu"

# Tests use tiny models: one thread avoids oversubscription slow-downs on small shared machines.
torch.set_num_threads(1)


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (shared data not available on this machine)")
    return path

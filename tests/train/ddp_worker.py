"""One process of the two-process test: ``torchrun --nproc-per-node 2 ddp_worker.py CONFIG OUT``.

Trains the run of CONFIG into OUT/run and saves this rank's final trainer state to OUT/rankR.pt.
"""

import sys
from pathlib import Path

import torch

from senmvae.train.config import TrainConfig
from senmvae.train.run import start_run

if __name__ == "__main__":
    torch.set_num_threads(1)
    config, out = Path(sys.argv[1]), Path(sys.argv[2])
    trainer = start_run(TrainConfig.from_yaml(config), out / "run")
    torch.save(trainer.state_dict(), out / f"rank{trainer.rank}.pt")

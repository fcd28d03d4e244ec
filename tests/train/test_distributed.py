import subprocess
import sys
from pathlib import Path

import pytest
import torch

from senmvae.data import MixedDomainDataset
from senmvae.domain import Domain
from senmvae.train.run import load_training_set, start_run
from tests.train.helpers import SUBPROCESS_ENV, learned_state, tiny_config

WORKER = Path(__file__).with_name("ddp_worker.py")
STEPS = 6


@pytest.mark.slow
def test_two_processes_agree_with_each_other_and_with_one_process_of_the_same_global_batch(tmp_path, pairs_dir):
    cfg = tiny_config(pairs_dir, f"schedule.steps={STEPS}", "validation.every=0", "data.batch_size=4")
    cfg.to_yaml(tmp_path / "config.yaml")
    samples = MixedDomainDataset(load_training_set(cfg, progress=False), cfg.data.crop, seed=cfg.seed)
    slices = [[samples[i]["domain"] for i in range(s, s + 2)] for s in range(0, 4 * STEPS, 2)]
    # The hard cases happen: a process without noisy images, and a whole batch without them.
    assert [Domain.SOURCE] * 2 in slices
    assert any(slices[2 * k] == slices[2 * k + 1] == [Domain.SOURCE] * 2 for k in range(STEPS))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        str(WORKER), str(tmp_path / "config.yaml"), str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(cmd, check=False, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    ranks = [learned_state(torch.load(tmp_path / f"rank{r}.pt", weights_only=True)) for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys()
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0] if ".running_" not in k)

    # One process, same global batch of 4, each process's slice as one micro-batch.
    single = start_run(cfg.merged({"optim": {"micro_batches": 2}}), tmp_path / "single")
    expected = learned_state(single.state_dict())
    for key, value in expected.items():
        if ".running_" in key or "num_batches_tracked" in key:
            continue  # batch-norm statistics: rank 0's, not an average (never used in training mode)
        torch.testing.assert_close(ranks[0][key], value, rtol=1e-4, atol=1e-6, msg=key)
    # Only rank 0 wrote the run folder.
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "step_0000005.pt",
        "step_0000006.pt",
    ]

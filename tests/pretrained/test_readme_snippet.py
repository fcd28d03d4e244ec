"""The README's Python API section runs as written."""

import re
from pathlib import Path

import numpy as np
import torch

from senmvae.model import SeNMVAE, model_preset
from tests.model.test_official import _to_official

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section whose heading is ``section``."""
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], flags=re.DOTALL)


def test_the_python_api_snippets_run_as_written(tmp_path, monkeypatch):
    blocks = python_blocks("Python API")
    assert len(blocks) == 2 and "load_official" in blocks[1]
    # The second block needs a checkpoint of the authors' code under the name it uses.
    official = SeNMVAE(model_preset("tiny").replace(level_predictor=None, pixel_noise=None))
    torch.save({_to_official(k): v for k, v in official.state_dict().items()}, tmp_path / "SeNMVAE.pth")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), names)
    clean, noisy, noisy_photo = names["clean"], names["noisy"], names["noisy_photo"]
    assert noisy.shape == clean.shape == (1, 3, 128, 128) and not noisy.requires_grad
    assert 0.005 < float((noisy - clean).std()) < 0.2  # the sidd prior's range of levels
    assert isinstance(noisy_photo, np.ndarray) and noisy_photo.shape == (128, 128, 3)
    assert names["x"].shape == names["y"].shape == clean.shape


def test_the_generation_guide_python_example_runs_as_written():
    guide = README.parent / "docs" / "generation.md"
    block = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL)[0]
    names: dict = {}
    exec(compile(block, str(guide), "exec"), names)
    clean, noisy, levels = names["clean"], names["noisy"], names["levels"]
    assert noisy.shape == clean.shape == (1, 3, 128, 128) and len(levels) == 1
    assert 0.005 < float((noisy - clean).std()) < 0.2

import importlib.util
import math
from pathlib import Path

from tests.generate.helpers import save_run, stochastic_tiny, write_clean_folder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_denoiser_on_the_fly.py"


def test_the_on_the_fly_training_example_trains(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("train_denoiser_on_the_fly", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    run = save_run(tmp_path / "run", stochastic_tiny())
    clean = write_clean_folder(tmp_path / "clean", [(40, 40)] * 3)
    # 3 images x 4 crops = 12 crops, 2 batches of 4 per epoch: 5 steps span 3 epochs
    steps, loss = example.main(
        [
            "--model",
            str(run),
            "--clean",
            str(clean),
            "--steps",
            "5",
            "--crop",
            "16",
            "--batch-size",
            "4",
            "--level",
            "0.03",
        ]
    )
    assert steps == 5 and math.isfinite(loss) and loss > 0
    assert "step 5: mse" in capsys.readouterr().out

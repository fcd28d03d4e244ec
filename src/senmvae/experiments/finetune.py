"""The paper's Table 3 on this machine: does fine-tuning a trained denoiser with synthetic pairs
help more than training it further on the real pairs?

A denoiser (``benchmark.denoiser``) trains ``finetune.pretrain_steps`` on every real pair outside
the held-out scenes (the split of ``benchmark.train`` at ``benchmark.split_seed``, the one the
shipped models keep out), then each row trains a copy ``finetune.steps`` further:

- ``finetune_real``: on the same real pairs;
- ``finetune_senmvae``: each batch mixes the real pairs with pairs that ``finetune.model`` makes
  from the clean photos of ``finetune.clean`` (``finetune.paired_fraction`` real); with
  ``finetune.clean: training``, from the training pairs' own clean images (the paper's protocol:
  SIDD's clean images, new noise);
- ``finetune_colored_heteroscedastic``: the same with the colored heteroscedastic Gaussian
  fitted on the real training pairs, the structured baseline.

Every synthetic photo gets one noise level drawn from the real training pairs' levels, the same
for both synthetic rows. All rows are scored on the held-out pairs (centre crops of
``benchmark.eval_crop``).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from senmvae.baselines import ColoredHeteroscedasticGaussian
from senmvae.data import load_spec
from senmvae.data.io import is_image_file, read_image
from senmvae.downstream import PairCrops, evaluate_denoiser, synthesize_pairs, train_denoiser, training_crops
from senmvae.errors import UserError
from senmvae.evaluation.fidelity import benchmark_split, centre_crop
from senmvae.evaluation.run import write_json
from senmvae.experiments.config import RESULTS, ExperimentConfig
from senmvae.generate import NoiseModel
from senmvae.generate.levels import ChoiceLevel
from senmvae.noise_level import noise_level_of_arrays
from senmvae.progress import progress_bar

TRAINING_CLEAN = "training"  # finetune.clean: new noisy versions of the training pairs' own clean images
ROWS = ("pretrained", "finetune_real", "finetune_senmvae", "finetune_colored_heteroscedastic")


def _photos(folder: str, count: int, crop: int) -> tuple[list[str], list[np.ndarray]]:
    files = sorted(p for p in Path(folder).expanduser().rglob("*") if p.is_file() and is_image_file(p))[:count]
    if not files:
        raise UserError(f"finetune.clean {folder} holds no images; point it at a folder of clean photos")
    photos = [centre_crop(read_image(p, allow_gray=False), crop, 16) for p in progress_bar(files, desc="clean photos")]
    return [p.stem for p in files], photos


def run_finetune(cfg: ExperimentConfig, folder: Path) -> dict:
    """Run the protocol at ``cfg.benchmark.seed`` into ``folder``; returns its results (written there)."""
    started = time.perf_counter()
    bench, ft = cfg.benchmark, cfg.finetune
    folder.mkdir(parents=True, exist_ok=True)
    collection = load_spec(bench.train)
    split = benchmark_split(collection, 1, bench.split_seed, bench.validation_fraction)
    held = {p.scene for p in split.validation}
    train = [(p.clean.load(), p.noisy.load()) for p in collection.paired if p.scene not in held]
    evaluation = [
        (centre_crop(p.clean.load(), bench.eval_crop, 16), centre_crop(p.noisy.load(), bench.eval_crop, 16))
        for p in sorted(split.validation, key=lambda p: p.name)[: bench.max_eval_pairs]
    ]
    if not train or not evaluation:
        raise UserError(f"{bench.train}: the split leaves {len(train)} training and {len(evaluation)} held-out pairs")
    levels = [noise_level_of_arrays(n, c) for c, n in train]
    if ft.clean == TRAINING_CLEAN:
        kept = [p for p in collection.paired if p.scene not in held][: ft.max_clean]
        names = [p.name for p in kept]
        photos = [centre_crop(p.clean.load(), ft.clean_crop, 16) for p in kept]
    else:
        names, photos = _photos(ft.clean, ft.max_clean, ft.clean_crop)
    rng = np.random.default_rng(bench.seed)
    photo_levels = [float(v) for v in rng.choice(levels, size=len(photos))]

    sources = {
        "finetune_senmvae": NoiseModel.load(
            ft.model, device=bench.device, sampler=ft.sampler, level=ChoiceLevel(tuple(levels), origin="training pairs")
        ),
        "finetune_colored_heteroscedastic": ColoredHeteroscedasticGaussian.fit(train),
    }
    pools = {
        row: synthesize_pairs(source, photos, names, 1, bench.seed, levels=photo_levels)
        for row, source in progress_bar(sources.items(), desc="synthesizing the photos' pairs")
    }
    denoiser = bench.denoiser.replace(seed=bench.seed, time_budget_s=None)
    pretrained, history = train_denoiser(denoiser.replace(steps=ft.pretrain_steps), PairCrops(train))
    models = {"pretrained": evaluate_denoiser(pretrained, evaluation) | {"steps": history.steps}}
    further = denoiser.replace(steps=ft.steps, lr=ft.lr, seed=bench.seed + 1)
    for row in ROWS[1:]:
        crops = (
            PairCrops(train)
            if row == "finetune_real"
            else training_crops("synthetic+paired", pools[row], train, ft.paired_fraction)
        )
        network, history = train_denoiser(further, crops, model=copy.deepcopy(pretrained))
        models[row] = evaluate_denoiser(network, evaluation) | {"steps": ft.pretrain_steps + history.steps}
    noisy = models["pretrained"]
    models["noisy_input"] = {"psnr": noisy["input_psnr"], "ssim": noisy["input_ssim"]}
    document = {
        "models": models,
        "settings": {"benchmark": bench.to_dict(), "finetune": ft.to_dict()},
        "data": {
            "train": bench.train,
            "training_pairs": len(train),
            "eval_pairs": len(evaluation),
            "photos": len(photos),
            "photo_folder": ft.clean,
        },
        "timing": {"total_s": round(time.perf_counter() - started, 1)},
        "runs": {},
    }
    write_json(folder / RESULTS, document)
    return document

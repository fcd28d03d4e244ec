"""Everything the benchmark report shows, gathered by the benchmark run in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from senmvae.metrics import NoiseLevelFunction, NoisePlacement, NoisePowerSpectrum, NoiseStructure


@dataclass
class ReportData:
    """Inputs of :func:`senmvae.evaluation.report.write_report`.

    ``results`` is the content of results.json (``{"models": {NAME: {METRIC: value}}, "config":
    ..., "downstream": {...}, "timing": {...}}``). Image crops are float (K, h, w, 3) in [0, 1],
    the same K crop windows for every entry: ``crops["clean"]``, ``crops["real"]`` (the real noisy
    image) and one entry per noise model name (its synthetic noisy image of the same clean crop).
    ``denoised`` maps a noise-model name to the crops denoised by the DnCNN trained on that
    model's pairs (plus ``"noisy_input"`` = the real noisy crops). ``nlf``/``nps`` hold the noise
    level function and power spectrum per name, ``"real"`` included; ``noise_samples`` a 1-D
    subsample of noise values (noisy - clean) per name for histograms; ``structure`` the noise's
    autocorrelation, channel correlation and normalised ring spectrum per name; ``placement`` the
    noise std by fifth of the pixels ranked by the clean image's contrast and brightness. ``curves`` maps a run
    name (``"senmvae"``, ``"senmvae_paired_only"``, ``"dncnn/<model>"``) to named series that
    share a ``"step"`` series, e.g. ``{"step": [...], "loss": [...], "kl_zn": [...]}``.
    ``model_order`` is the order in which models appear in tables and grids.
    """

    results: dict
    model_order: list[str]
    crops: dict[str, np.ndarray]
    denoised: dict[str, np.ndarray] = field(default_factory=dict)
    nlf: dict[str, NoiseLevelFunction] = field(default_factory=dict)
    nps: dict[str, NoisePowerSpectrum] = field(default_factory=dict)
    noise_samples: dict[str, np.ndarray] = field(default_factory=dict)
    structure: dict[str, NoiseStructure] = field(default_factory=dict)
    placement: dict[str, NoisePlacement] = field(default_factory=dict)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)

"""The SR benchmark's report: one offline HTML file, built from the denoising report's pieces.

The header holds the verdict. Sections: the results table (SR fidelity and LR realism, best of each
ranked column in bold), LR crops (B(HR), the real LR image, each degradation model's LR image of the
same HR crop) with their amplified degradation LR - B(HR), SR crops (the LR input, each model's SR
output, the HR image), the training curves (SeNM-VAE runs and every SR network), and last the run's
facts (data, degradations, runs, timing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from senmvae.atomic import write_text_atomic
from senmvae.evaluation.report import (
    STYLE,
    column_formatter,
    curve_figure,
    esc_html,
    image_grid,
    is_finite,
    kv_block,
    noise_gain,
    note_paragraph,
)

# metric: (higher is better, meaning); metrics listed with None are shown but not ranked
SR_METRICS: dict[str, tuple[bool | None, str]] = {
    "psnr_y": (True, "PSNR of the SR output on Y (BT.601), dB"),
    "ssim_y": (True, "SSIM on Y"),
    "psnr_rgb": (True, "PSNR on RGB, dB"),
    "ssim_rgb": (True, "SSIM on RGB, averaged over channels"),
    "lpips_alex": (False, "LPIPS v0.1 AlexNet of SR output against HR"),
    "effnet_distance": (False, "the project's LPIPS-like EfficientNet-Lite0 feature distance, SR against HR"),
    "kl_noise_neca": (False, "LR realism: KL of the histograms of LR - B(HR), real against synthetic (NeCA)"),
    "akld_danet": (False, "LR realism: DANet's AKLD of LR - B(HR)"),
    "akld_reverse": (False, "LR realism: AKLD in the other direction"),
    "fd_effnet_lite0": (False, "LR realism: Frechet distance of EfficientNet-Lite0 features, synthetic vs real LR"),
    "lr_level_8bit": (None, "std of LR - B(HR), 8-bit units (the real one in the bicubic_upsampling row)"),
    "sr_steps": (None, "training steps of the SR network"),
    "sr_minutes": (None, "training minutes of the SR network"),
}
REFERENCE_ROWS = ("real_pairs", "bicubic_upsampling")


@dataclass
class SRReportData:
    """``results``: the content of results.json. ``lr_crops``: (K, c, c, 3) LR crops by column title (the same
    K windows), ``sr_crops``: (K, s c, s c, 3) crops of the same windows at HR scale, ``curves``: series by run."""

    results: dict
    lr_crops: dict[str, np.ndarray]
    sr_crops: dict[str, np.ndarray]
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def write_sr_report(path: Path, data: SRReportData) -> Path:
    sections = [
        ("results", "Results", _results(data.results)),
        ("lr", "Low-resolution images at the same crops", _lr_section(data.lr_crops)),
        ("sr", "Super-resolved crops", _grid_or_note(data.sr_crops, "Columns: the real LR input (pixels repeated), "
                                                      "the SR output of the network trained on each degradation "
                                                      "model's pairs, bicubic interpolation, the HR image.")),
        ("curves", "Training curves", training_curves(data.curves)),
        ("run", "Run details", _run_details(data.results)),
    ]  # fmt: skip
    written = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    data_info = data.results.get("data", {})
    banner = (
        '<div class="banner unknown"><strong>Simulated data.</strong> The LR images come from the simulated '
        "real-world SR set (blur + decimation, camera noise simulator, JPEG), not from AIM 2019 or NTIRE 2020; "
        "the numbers are not comparable to published ones.</div>"
        if data_info.get("simulated")
        else ""
    )
    header = (
        "<h1>Real-world super-resolution benchmark</h1>"
        f'<p class="sub">Written {written}. Which degradation model trains the best SR network?</p>'
        + banner
        + (kv_block("verdict", data.results["verdict"]) if data.results.get("verdict") else "")
        + "<nav>"
        + "".join(f'<a href="#{anchor}">{esc_html(title)}</a>' for anchor, title, _ in sections)
        + "</nav>"
    )
    body = "\n".join(f'<section id="{a}">\n<h2>{esc_html(t)}</h2>\n{b}\n</section>' for a, t, b in sections)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>SeNM-VAE SR benchmark report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{header}\n{body}\n</body>\n</html>\n"
    )
    return write_text_atomic(path, page)


def _run_details(results: dict) -> str:
    blocks = [
        kv_block(key, results[key], durations=key == "timing")
        for key in ("data", "degradations", "runs", "timing")
        if results.get(key)
    ]
    if not blocks:
        return note_paragraph("No run facts in these results.")
    return '<div class="kv-blocks">' + "".join(blocks) + "</div>"


def _results(results: dict) -> str:
    models = results.get("models") or {}
    order = [n for n in results.get("model_order", models) if n in models]
    metrics = [m for m in SR_METRICS if any(m in models[n] for n in order)]
    header = (
        '<tr><th class="model">degradation model</th>'
        + "".join(f'<th title="{esc_html(SR_METRICS[m][1])}">{esc_html(m)}{_arrow(m)}</th>' for m in metrics)
        + "</tr>"
    )
    rows = []
    for name in order:
        cells = []
        for m in metrics:
            column = [models[n].get(m) for n in order]
            text = esc_html(column_formatter(column)(models[name].get(m)))
            best = _is_best(m, name, order, models)
            cells.append(f'<td class="num">{f"<strong>{text}</strong>" if best else text}</td>')
        css = ' class="reference"' if name in REFERENCE_ROWS else ""
        rows.append(f'<tr{css}><th class="model">{esc_html(name)}</th>{"".join(cells)}</tr>')
    legend = "".join(f"<li><code>{esc_html(m)}</code>{_arrow(m)} {esc_html(SR_METRICS[m][1])}</li>" for m in metrics)
    return (
        f'<div class="scroll"><table class="results">{header}{"".join(rows)}</table></div>'
        '<p class="legend"><strong>Bold</strong>: best of each ranked column among the degradation models; '
        "<em>real_pairs</em> (the same network trained on the paired real LR/HR images alone) and "
        "<em>bicubic_upsampling</em> (interpolation of the real LR image) are references, not ranked. "
        "LR realism compares each model's LR version of the evaluation HR images with the real LR images.</p>"
        f'<ul class="legend">{legend}</ul>'
    )


def _arrow(metric: str) -> str:
    better = SR_METRICS[metric][0]
    return "" if better is None else ("&nbsp;↑" if better else "&nbsp;↓")


def _is_best(metric: str, name: str, order: list[str], models: dict) -> bool:
    better = SR_METRICS[metric][0]
    ranked = {n: models[n][metric] for n in order if n not in REFERENCE_ROWS and is_finite(models[n].get(metric))}
    if better is None or name not in ranked:
        return False
    return ranked[name] == (max if better else min)(ranked.values())


def _grid_or_note(columns: dict[str, np.ndarray], legend: str) -> str:
    if not columns:
        return note_paragraph("No crops in this report.")
    return f'<p class="legend">{esc_html(legend)}</p>' + image_grid(list(columns.items()))


def _lr_section(crops: dict[str, np.ndarray]) -> str:
    if "B(HR)" not in crops:
        return note_paragraph("No LR crops in this report.")
    parts = [
        _grid_or_note(
            crops,
            "Columns: B(HR), the bicubic downsampling of the HR crop; the real LR image; each degradation model's "
            "LR image of the same HR crop (SeNM-VAE and the Gaussian at the real image's level).",
        )
    ]
    clean = np.asarray(crops["B(HR)"], dtype=np.float64)
    degradations = [(n, np.asarray(c, dtype=np.float64) - clean) for n, c in crops.items() if n != "B(HR)"]
    gain = noise_gain(float(np.std(degradations[0][1]))) if degradations else 1
    parts.append(
        f"<h3>LR - B(HR) × {gain}, around 0.5 gray</h3>"
        + image_grid(
            [(n, 0.5 + gain * d) for n, d in degradations],
            [[f"σ {np.std(d[k]):.4f}" for k in range(len(d))] for _, d in degradations],
        )
    )
    return "\n".join(parts)


def training_curves(curves: dict[str, dict[str, list[float]]]) -> str:
    if not curves:
        return note_paragraph("No training curves in this report.")
    parts = []
    for run in sorted(curves, key=lambda name: name.startswith("SR")):
        figure = curve_figure(run, curves[run])
        parts.append(f"<h3>{esc_html(run)}</h3>" + (figure or note_paragraph(f"No logged values for {run}.")))
    return "\n".join(parts)

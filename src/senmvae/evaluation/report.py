"""The benchmark's report: one self-contained HTML file that reads offline.

It opens with the verdict (downstream validity, the best model of each ranked metric), then the
results table and the pictures; the run's facts and settings, and the raw per-image lists of
results.json (collapsed), come last.

Everything is inline: a small stylesheet, image crops as base64 PNG at their own pixels (scaled
up by whole factors only, so that noise is not resampled), and matplotlib (Agg) figures as
base64 PNG. A section whose inputs are missing is replaced by a one-line note.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from senmvae.atomic import write_text_atomic
from senmvae.evaluation.report_data import ReportData
from senmvae.metrics import METRICS, psnr, spectrum_distance

# Rows that are references, not competitors: never marked best.
REFERENCE_ROWS = ("real", "paired_alone", "noisy_input")
# Entries of results.json that hold one value per evaluation image: shown last, collapsed.
PER_IMAGE_KEYS = ("level_control",)
DEFAULT_MIN_REAL_GAIN_DB = 1.0
FIGURE_WIDTH_IN = 9.0
FIGURE_DPI = 100
GRID_WIDTH_PX = 1300  # budget for one row of crops; crops are enlarged by whole factors to fill it
CHANNEL_NAMES = ("R", "G", "B")
LEGEND_WIDTH_CHARS = 120  # about what fits across a figure below the plots
NOISE_GAINS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40, 50)
CURVE_COLUMNS = 3  # training-curve panels per row
CURVE_PANEL_HEIGHT_IN = 2.1

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
       max-width: 1340px; margin: 1.5em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { margin-bottom: 0.3em; }
.sub { color: #555; margin-top: 0; }
nav a { margin-right: 1em; }
.banner { padding: 0.7em 1em; border-radius: 6px; margin: 1em 0; font-size: 1.05em; }
.banner.invalid { background: #fde2e1; border: 2px solid #c0392b; color: #7b1f16; }
.banner.valid { background: #e3f5e6; border: 2px solid #2e8540; color: #1c5128; }
.banner.unknown { background: #fff4d6; border: 2px solid #c9a227; color: #5c4a0c; }
.note { color: #666; font-style: italic; }
.verdict { font-size: 1.05em; }
table { border-collapse: collapse; }
table.results td, table.results th { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; }
table.results td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.results tr.reference td, table.results tr.reference th { color: #666; font-style: italic; background: #f7f7f7; }
table.results th.model { text-align: left; }
table.kv td, table.kv th { padding: 0.1em 0.8em 0.1em 0; vertical-align: top; text-align: left; }
table.kv th { font-weight: normal; color: #555; }
.kv-blocks { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0.5em 3em; margin-bottom: 1em; }
details summary { cursor: pointer; font-weight: 600; margin-bottom: 0.3em; }
.legend { font-size: 0.9em; color: #333; }
.scroll { overflow-x: auto; }
table.grid th { font-weight: 600; font-size: 0.85em; padding: 0.2em; }
table.grid th.row { text-align: right; padding-right: 0.6em; white-space: nowrap; }
table.grid th.col { vertical-align: bottom; }
table.grid td { padding: 2px; text-align: center; vertical-align: top; }
table.grid img { image-rendering: pixelated; display: block; margin: 0 auto; }
table.grid .cap { font-size: 0.8em; color: #333; font-variant-numeric: tabular-nums; }
img.figure { max-width: 100%; height: auto; display: block; margin: 0.4em 0; }
"""


@dataclass
class Section:
    anchor: str
    title: str
    body: str


def write_report(path: Path, data: ReportData) -> Path:
    """Write the report to ``path`` (a ``.html`` file, or a folder that gets ``report.html``); returns the file."""
    path = Path(path)
    target = path if path.suffix.lower() in (".html", ".htm") else path / "report.html"
    _check_crop_shapes(data)
    sections = [
        _results_section(data),
        _crops_section(data),
        _level_section(data),
        _nlf_section(data),
        _placement_section(data),
        _noise_distribution_section(data),
        _structure_section(data),
        _curves_section(data),
        _denoised_section(data),
        _run_section(data),
        _per_image_section(data),
    ]
    page = _page(_header(data, sections), sections)
    write_text_atomic(target, page)
    return target


# --------------------------------------------------------------------------- page and header
def _page(header: str, sections: list[Section]) -> str:
    body = "\n".join(f'<section id="{s.anchor}">\n<h2>{esc_html(s.title)}</h2>\n{s.body}\n</section>' for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>SeNM-VAE benchmark report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{header}\n{body}\n</body>\n</html>\n"
    )


def _header(data: ReportData, sections: list[Section]) -> str:
    """Title, the models compared, the verdict (downstream validity and the best model of each ranked metric)
    and the table of contents; the run's facts and settings follow the pictures (``_run_section``)."""
    models = _models_table(data.results)
    compared = [n for n in _ordered(data.model_order, models) if n not in REFERENCE_ROWS]
    references = [n for n in REFERENCE_ROWS if n in models]
    written = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<h1>SeNM-VAE benchmark report</h1>",
        f'<p class="sub">Written {written}.</p>',
        "<p>Noise models compared: "
        + (", ".join(f"<strong>{esc_html(n)}</strong>" for n in compared) or "<em>none listed</em>")
        + "."
        + (
            " Reference rows (not ranked): " + ", ".join(f"<em>{esc_html(n)}</em>" for n in references) + "."
            if references
            else ""
        )
        + "</p>",
        _validity_banner(data.results.get("downstream") or {}),
        _verdict(data),
        "<nav>" + "".join(f'<a href="#{s.anchor}">{esc_html(s.title)}</a>' for s in sections) + "</nav>",
    ]
    return "\n".join(part for part in parts if part)


def _verdict(data: ReportData) -> str:
    """One paragraph: each noise model that is best on some ranked metric, with those metrics (most wins first).
    PSNR and SSIM come from the denoisers and are left out when the downstream comparison is invalid."""
    models = _models_table(data.results)
    names = [n for n in _ordered(data.model_order, models) if n not in REFERENCE_ROWS]
    invalid = (data.results.get("downstream") or {}).get("valid") is False
    left_out = {"psnr", "ssim"} if invalid else set()
    metrics = [m for m in METRICS if m not in left_out and any(m in models[n] for n in names)]
    wins: dict[str, list[str]] = {}
    for metric in metrics:
        for row in _best_rows(metric, names, [models[n].get(metric) for n in names]):
            wins.setdefault(names[row], []).append(metric)
    if not wins:
        return ""
    ranked = sorted(wins, key=lambda name: (-len(wins[name]), names.index(name)))
    text = "; ".join(
        f"<strong>{esc_html(name)}</strong> on {', '.join(f'<code>{esc_html(m)}</code>' for m in wins[name])}"
        for name in ranked
    )
    note = " (psnr and ssim left out: the downstream comparison is invalid)" if invalid else ""
    return f'<p class="verdict">Best of each ranked metric among the noise models{note}: {text}.</p>'


def _run_section(data: ReportData) -> Section:
    """The run's facts (scalars, timing, data, runs, downstream details) and its settings, collapsed."""
    section = Section("run", "Run details", "")
    results = data.results
    shown_elsewhere = ("models", "downstream", "config", *PER_IMAGE_KEYS)
    scalars = {k: v for k, v in results.items() if k not in shown_elsewhere and not isinstance(v, dict)}
    config = results.get("config")
    flat_config = _flatten(config) if isinstance(config, dict) else {}
    scalars.update({f"config.{k}": v for k, v in flat_config.items() if "budget" in k})
    blocks = []
    if scalars:
        blocks.append(kv_block("run", scalars))
    for key in ("timing", *(k for k in results if k not in (*shown_elsewhere, "timing"))):
        if isinstance(results.get(key), dict) and results[key]:
            blocks.append(kv_block(key, results[key], durations=key == "timing"))
    downstream_extra = {
        k: v for k, v in (results.get("downstream") or {}).items() if k not in ("valid", "real_gain_db", "min_gain_db")
    }
    if downstream_extra:
        blocks.append(kv_block("downstream", downstream_extra))
    parts = ['<div class="kv-blocks">' + "".join(blocks) + "</div>"] if blocks else []
    if flat_config:
        items = list(flat_config.items())
        third = math.ceil(len(items) / 3)
        tables = "".join(_kv_table(dict(items[i : i + third])) for i in range(0, len(items), third))
        parts.append(
            f"<details><summary>configuration ({len(items)} settings)</summary>"
            f'<div class="kv-blocks">{tables}</div></details>'
        )
    section.body = "\n".join(parts) or note_paragraph("No run facts in these results.")
    return section


def _per_image_section(data: ReportData) -> Section:
    """The raw per-image lists of results.json (``PER_IMAGE_KEYS``), one table per key, collapsed."""
    section = Section("per-image", "Per-image values", "")
    tables = []
    for key in PER_IMAGE_KEYS:
        per_model = data.results.get(key)
        if not isinstance(per_model, dict) or not per_model:
            continue
        rows = [
            (name, field, values)
            for name in _ordered(data.model_order, per_model)
            if isinstance(per_model[name], dict)
            for field, values in per_model[name].items()
            if isinstance(values, list)
        ]
        count = max((len(values) for _, _, values in rows), default=0)
        header = "<tr><th>row</th><th>value</th>" + "".join(f"<th>{i + 1}</th>" for i in range(count)) + "</tr>"
        body = "".join(
            f"<tr><th>{esc_html(name)}</th><th>{esc_html(field)}</th>"
            + "".join(f'<td class="num">{esc_html(_format_scalar(v))}</td>' for v in values)
            + "</tr>"
            for name, field, values in rows
        )
        tables.append(
            f"<details><summary><code>{esc_html(key)}</code>: {len(rows)} lists of up to {count} images</summary>"
            f'<div class="scroll"><table class="results">{header}{body}</table></div></details>'
        )
    section.body = (
        '<p class="legend">The lists behind the plots above, one value per evaluation image (as in results.json).</p>'
        + "".join(tables)
        if tables
        else note_paragraph("No per-image lists in these results.")
    )
    return section


def _validity_banner(downstream: dict) -> str:
    if not downstream:
        return '<p class="note">No downstream (denoiser) evaluation in these results.</p>'
    gain = downstream.get("real_gain_db")
    needed = downstream.get("min_gain_db", DEFAULT_MIN_REAL_GAIN_DB)
    gain_text = f"{_format_scalar(gain)} dB" if _is_number(gain) else "an unknown amount"
    valid = downstream.get("valid")
    if valid is False:
        return (
            '<div class="banner invalid"><strong>Downstream comparison invalid.</strong> The DnCNN trained on '
            f"real pairs gains only {esc_html(gain_text)} over the noisy input, less than the "
            f"{esc_html(_format_scalar(needed))} dB needed: the denoisers are not trained well enough for their "
            "PSNR/SSIM to rank the noise models. The noise-realism metrics are not affected.</div>"
        )
    if valid is True:
        return (
            '<div class="banner valid"><strong>Downstream comparison valid.</strong> The DnCNN trained on real '
            f"pairs gains {esc_html(gain_text)} over the noisy input (at least {esc_html(_format_scalar(needed))} dB "
            "needed).</div>"
        )
    return (
        '<div class="banner unknown"><strong>Downstream validity not stated.</strong> The DnCNN trained on real '
        f"pairs gains {esc_html(gain_text)} over the noisy input.</div>"
    )


def kv_block(title: str, values: dict, durations: bool = False) -> str:
    """A titled two-column table of ``values`` (nested dicts flattened; seconds shown as durations)."""
    return f"<div><h3>{esc_html(title)}</h3>{_kv_table(_flatten(values), durations)}</div>"


def _kv_table(values: dict, durations: bool = False) -> str:
    rows = []
    for key, value in values.items():
        text = _format_scalar(value)
        if durations and _is_number(value) and key.endswith(("_s", "_seconds")) and abs(value) >= 60:
            text += f" ({_duration(float(value))})"
        rows.append(f"<tr><th>{esc_html(key)}</th><td>{esc_html(text)}</td></tr>")
    return '<table class="kv">' + "".join(rows) + "</table>"


def _flatten(values: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


# --------------------------------------------------------------------------- results table
def _models_table(results: dict) -> dict[str, dict]:
    models = results.get("models") or {}
    return {name: row for name, row in models.items() if isinstance(row, dict)}


def _results_section(data: ReportData) -> Section:
    section = Section("results", "Results", "")
    models = _models_table(data.results)
    if not models:
        section.body = note_paragraph("No per-model results in results['models'].")
        return section
    names = [n for n in _ordered(data.model_order, models) if n not in REFERENCE_ROWS]
    names += [n for n in REFERENCE_ROWS if n in models]
    metric_names = [m for m in METRICS if any(m in models[n] for n in names)]
    metric_names += list(dict.fromkeys(m for n in names for m in models[n] if m not in METRICS))

    header = (
        '<tr><th class="model">model</th>'
        + "".join(f'<th title="{esc_html(_direction_text(m))}">{_breakable(m)}{_arrow(m)}</th>' for m in metric_names)
        + "</tr>"
    )
    columns = {m: [models[n].get(m) for n in names] for m in metric_names}
    best = {m: _best_rows(m, names, columns[m]) for m in metric_names}
    formats = {m: column_formatter(columns[m]) for m in metric_names}
    rows = []
    for i, name in enumerate(names):
        cells = []
        for m in metric_names:
            text = esc_html(formats[m](columns[m][i]))
            cells.append(f'<td class="num">{f"<strong>{text}</strong>" if i in best[m] else text}</td>')
        css = ' class="reference"' if name in REFERENCE_ROWS else ""
        rows.append(f'<tr{css}><th class="model">{esc_html(name)}</th>{"".join(cells)}</tr>')
    table = f'<div class="scroll"><table class="results" id="results-table">{header}{"".join(rows)}</table></div>'

    legend = [
        f"<li><code>{esc_html(m)}</code>{_arrow(m)} {esc_html(_direction_text(m))}"
        + (f"; comparable to: {esc_html(METRICS[m].comparable_to)}" if m in METRICS else "")
        + "</li>"
        for m in metric_names
    ]
    explanation = (
        "<p class=legend><strong>Bold</strong>: best value of each ranked column among the noise models. "
        "The reference rows are left out of the ranking"
        + (
            ": <em>real</em> is the real noise itself (and the denoiser trained on real pairs)"
            if "real" in names
            else ""
        )
        + (
            ", <em>paired_alone</em> the denoiser trained on the real paired crops alone"
            if "paired_alone" in names
            else ""
        )
        + (", <em>noisy_input</em> the unprocessed noisy input" if "noisy_input" in names else "")
        + ".</p>"
    )
    if (data.results.get("downstream") or {}).get("valid") is False:
        explanation += note_paragraph(
            "psnr and ssim come from the denoisers, whose comparison is invalid (see the banner above)."
        )
    section.body = table + explanation + '<ul class="legend">' + "".join(legend) + "</ul>"
    return section


def _arrow(metric: str) -> str:
    if metric not in METRICS:
        return ""
    return "&nbsp;↑" if METRICS[metric].higher_is_better else "&nbsp;↓"


def _direction_text(metric: str) -> str:
    if metric not in METRICS:
        return "not a registered metric: no direction, not ranked"
    return "higher is better" if METRICS[metric].higher_is_better else "lower is better"


def _best_rows(metric: str, names: Sequence[str], values: Sequence[object]) -> set[int]:
    if metric not in METRICS:
        return set()
    ranked = {i: float(v) for i, (n, v) in enumerate(zip(names, values)) if n not in REFERENCE_ROWS and is_finite(v)}
    if not ranked:
        return set()
    best = (max if METRICS[metric].higher_is_better else min)(ranked.values())
    return {i for i, v in ranked.items() if v == best}


def column_formatter(values: Sequence[object]) -> Callable[[object], str]:
    """One number format per column: about four significant digits of its largest value."""
    finite = [abs(float(v)) for v in values if is_finite(v)]
    if not finite or all(v.is_integer() for v in finite):
        decimals = 0
    else:
        largest = max(finite)
        if largest < 1e-3:
            return lambda v: f"{float(v):.2e}" if is_finite(v) else _format_scalar(v)
        decimals = min(5, max(0, 3 - math.floor(math.log10(largest))))
    return lambda v: f"{float(v):.{decimals}f}" if is_finite(v) else _format_scalar(v)


# --------------------------------------------------------------------------- image grids
def _check_crop_shapes(data: ReportData) -> None:
    arrays = {f"crops[{n!r}]": a for n, a in data.crops.items()}
    arrays.update({f"denoised[{n!r}]": a for n, a in data.denoised.items()})
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    for name, shape in shapes.items():
        if len(shape) != 4 or shape[-1] != 3:
            raise ValueError(f"ReportData.{name} must be a (K, h, w, 3) array, got shape {shape}")
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ValueError(f"ReportData crops must all show the same K windows of one size: {listed}")


def _crops_section(data: ReportData) -> Section:
    section = Section("crops", "Noisy images at the same crops", "")
    crops = data.crops
    if "clean" not in crops:
        section.body = note_paragraph("No image crops in this report.")
        return section
    models = [n for n in _ordered(data.model_order, crops) if n not in ("clean", "real")]
    columns = [("clean", crops["clean"])]
    if "real" in crops:
        columns.append(("real noisy", crops["real"]))
    columns += [(n, crops[n]) for n in models]
    parts = [image_grid(columns)]

    noise_columns = [(n, crops[n]) for n in (["real"] if "real" in crops else []) + models]
    if noise_columns:
        clean = np.asarray(crops["clean"], dtype=np.float64)
        reference = np.asarray(crops["real"] if "real" in crops else noise_columns[0][1], dtype=np.float64) - clean
        gain = noise_gain(float(np.std(reference)))
        noise = [(name, np.asarray(noisy, dtype=np.float64) - clean) for name, noisy in noise_columns]
        captions = [[f"σ {np.std(n[k]):.4f}" for k in range(len(n))] for _, n in noise]
        parts.append(
            f"<h3>Noise (noisy − clean) × {gain}, around 0.5 gray</h3>"
            f'<p class="legend">Same scale for every column: mid gray is zero noise, ±{0.5 / gain:.3f} on the '
            "[0, 1] scale reaches black/white (clipped beyond). σ: noise std of the crop.</p>"
            + image_grid([(name, 0.5 + gain * n) for name, n in noise], captions)
        )
    missing = [n for n in data.model_order if n not in crops and n not in REFERENCE_ROWS]
    if missing:
        parts.append(note_paragraph("No crops for: " + ", ".join(missing) + "."))
    section.body = "\n".join(parts)
    return section


def noise_gain(real_std: float) -> int:
    """Largest listed gain that keeps ±3 std of the reference noise inside [0, 1]."""
    if not real_std > 0:
        return 5
    fitting = [g for g in NOISE_GAINS if g * 3.0 * real_std <= 0.5]
    return fitting[-1] if fitting else NOISE_GAINS[0]


def _denoised_section(data: ReportData) -> Section:
    section = Section("denoised", "Denoised crops", "")
    denoised = data.denoised
    models = [n for n in _ordered(data.model_order, denoised) if n != "noisy_input"]
    if not models:
        section.body = note_paragraph("No denoised crops in this report.")
        return section
    columns = []
    if "noisy_input" in denoised:
        columns.append(("noisy input", denoised["noisy_input"]))
    elif "real" in data.crops:
        columns.append(("noisy input", data.crops["real"]))
    columns += [(n, denoised[n]) for n in models]
    clean = data.crops.get("clean")
    captions = None
    text = "Columns: the real noisy input, the output of the DnCNN trained on each named model's pairs"
    if clean is not None:
        captions = [
            [f"{float(v):.2f} dB" for v in psnr(np.asarray(images, np.float64), np.asarray(clean, np.float64))]
            for _, images in columns
        ]
        columns.append(("clean", clean))
        captions.append([""] * len(clean))
        text += ", the clean crop. Captions: PSNR of the crop against the clean crop (data range 1)."
    else:
        text += ". No clean crops: no PSNR captions."
    section.body = f'<p class="legend">{esc_html(text)}</p>' + image_grid(columns, captions)
    return section


def image_grid(columns: list[tuple[str, np.ndarray]], captions: list[list[str]] | None = None) -> str:
    """Rows = crops, one column per (title, (K, h, w, 3) array); captions[column][row] under each image."""
    count, h, w = np.shape(columns[0][1])[:3]
    scale = max(1, GRID_WIDTH_PX // (len(columns) * (w + 6)))
    header = (
        "<tr><th></th>"
        + "".join(f'<th class="col" style="width: {w * scale}px">{_breakable(title)}</th>' for title, _ in columns)
        + "</tr>"
    )
    rows = []
    for k in range(count):
        cells = []
        for c, (title, images) in enumerate(columns):
            alt = esc_html(f"crop {k + 1}, {title}")
            image = f'<img src="{_png_of_array(images[k])}" width="{w * scale}" height="{h * scale}" alt="{alt}">'
            caption = captions[c][k] if captions else ""
            cells.append(f"<td>{image}" + (f'<div class="cap">{esc_html(caption)}</div>' if caption else "") + "</td>")
        rows.append(f'<tr><th class="row">crop {k + 1}</th>{"".join(cells)}</tr>')
    note = f'<p class="legend">Crops shown at {scale}× their pixels ({w}×{h} px each).</p>' if count else ""
    return f'<div class="scroll"><table class="grid">{header}{"".join(rows)}</table></div>{note}'


def _png_of_array(image: np.ndarray) -> str:
    pixels = np.round(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return _data_uri(buffer.getvalue())


# --------------------------------------------------------------------------- noise statistics
def _nlf_section(data: ReportData) -> Section:
    section = Section("nlf", "Noise level function", "")
    names = _curve_names(data, data.nlf)
    if not names:
        section.body = note_paragraph("No noise level functions in this report.")
        return section
    colors = _colors(data)
    fig = _figure_with_legend_room(names)
    axes = fig.subplots(1, 3, sharey=True)
    for c, ax in enumerate(axes):
        for name in names:
            nlf = data.nlf[name]
            ax.plot(nlf.intensity[c], nlf.std[c], label=name, **_line_style(name, colors))
        ax.set_title(CHANNEL_NAMES[c])
        ax.set_xlabel("clean intensity")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("noise std")
    _figure_legend(fig, names)
    section.body = (
        '<p class="legend">Standard deviation of the noise (noisy − clean) per bin of clean intensity, per channel; '
        "real noise in thick black.</p>" + img_of_figure(fig, "noise level function per channel")
    )
    return section


def _placement_section(data: ReportData) -> Section:
    section = Section("placement", "Where the noise is", "")
    names = _curve_names(data, data.placement)
    if not names:
        section.body = note_paragraph("No noise placement in this report.")
        return section
    colors = _colors(data)
    fig = _figure_with_legend_room(names)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, xlabel in (
        (axes[0], "by_contrast", "fifth of the pixels by clean contrast (flat → edges)"),
        (axes[1], "by_brightness", "fifth of the pixels by clean brightness (dark → bright)"),
    ):
        for name in names:
            values = getattr(data.placement[name], key) * 255.0
            ax.plot(np.arange(1, len(values) + 1), values, label=name, **_line_style(name, colors))
        ax.set_xlabel(xlabel)
        ax.set_xticks(np.arange(1, len(values) + 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("noise std (8-bit)")
    _figure_legend(fig, names)
    section.body = (
        '<p class="legend">Standard deviation of the noise (noisy − clean) in each fifth of every image\'s pixels, '
        "ranked by the clean image's local contrast and by its brightness (docs/metrics.md, noise placement); "
        "real noise in thick black.</p>" + img_of_figure(fig, "noise std by clean contrast and brightness")
    )
    return section


def _noise_distribution_section(data: ReportData) -> Section:
    section = Section("noise", "Noise histograms and power spectra", "")
    parts = []
    names = _curve_names(data, data.noise_samples)
    if names:
        parts.append(_histogram_figure(data, names))
    else:
        parts.append(note_paragraph("No noise samples in this report: no histograms."))
    names = _curve_names(data, data.nps)
    if names:
        parts.append(_spectrum_figure(data, names))
    else:
        parts.append(note_paragraph("No noise power spectra in this report."))
    section.body = "\n".join(parts)
    return section


def _structure_section(data: ReportData) -> Section:
    """Per noise model, its autocorrelation and normalised ring spectrum beside the real noise's."""
    section = Section("structure", "Noise structure: autocorrelation and spectrum", "")
    if "real" not in data.structure:
        section.body = note_paragraph("No noise structure of the real noise in this report.")
        return section
    real = data.structure["real"]
    names = [n for n in _curve_names(data, data.structure) if n != "real"]
    if not names:
        section.body = note_paragraph("No noise structure of any noise model in this report.")
        return section
    colors = _colors(data)
    figures = []
    for name in names:
        structure = data.structure[name]
        fig = Figure(figsize=(FIGURE_WIDTH_IN, 2.6), dpi=FIGURE_DPI, layout="constrained")
        lags_ax, spectrum_ax = fig.subplots(1, 2)
        for label, measured, style in (("real", real, _line_style("real", colors)), (name, structure, None)):
            style = style or {k: v for k, v in _line_style(name, colors).items() if k != "linestyle"}
            lags = np.arange(measured.horizontal.shape[1])
            lags_ax.plot(lags, measured.horizontal.mean(0), label=f"{label} horizontal", **style)
            lags_ax.plot(lags, measured.vertical.mean(0), label=f"{label} vertical", linestyle=":", **style)
            spectrum = np.where(measured.spectrum > 0, measured.spectrum, np.nan)
            spectrum_ax.plot(measured.frequency, spectrum, label=label, **style)
        lags_ax.set_xlabel("lag (pixels)")
        lags_ax.set_ylabel("autocorrelation")
        lags_ax.set_xticks(lags)
        lags_ax.legend(fontsize="small", frameon=False)
        spectrum_ax.set_yscale("log")
        spectrum_ax.set_xlabel("frequency (cycles / pixel)")
        spectrum_ax.set_ylabel("share of the noise power")
        spectrum_ax.legend(fontsize="small", frameon=False)
        for ax in (lags_ax, spectrum_ax):
            ax.grid(alpha=0.3, which="both")
        fig.suptitle(
            f"{name}: lag-1 {structure.lag1:.2f} (real {real.lag1:.2f}), channels {structure.channels:.2f} "
            f"(real {real.channels:.2f}), spectrum distance {spectrum_distance(structure, real):.2f}",
            fontsize="medium",
        )
        figures.append(img_of_figure(fig, f"noise structure of {name} against the real noise"))
    section.body = (
        '<p class="legend">Autocorrelation of the noise (noisy − clean) at lags 0-4 along x (solid) and y '
        "(dotted), averaged over R, G and B, and its radially averaged power spectrum in 16 rings normalised to "
        "unit sum (white noise: flat at 1/16); real noise in thick black (docs/metrics.md).</p>" + "".join(figures)
    )
    return section


def _histogram_figure(data: ReportData, names: list[str]) -> str:
    samples = {n: np.asarray(data.noise_samples[n], dtype=np.float64).ravel() for n in names}
    samples = {n: s[np.isfinite(s)] for n, s in samples.items()}
    spread = {n: float(np.percentile(np.abs(s), 99.9)) for n, s in samples.items() if s.size}
    if not spread:
        return note_paragraph("The noise samples are empty: no histograms.")
    # The real noise sets the range (a wild model must not squash it); 8-bit steps stay whole bins.
    limit = 1.5 * spread["real"] if "real" in spread else max(spread.values())
    limit = max(limit, 2.0 / 255.0)
    levels = max(1, math.ceil(2.0 * limit / 80.0 * 255.0))
    levels += 1 - levels % 2  # odd: every multiple of 1/255 falls inside a bin, never on an edge
    step = levels / 255.0
    half = math.ceil(limit / step)
    edges = (np.arange(-half, half + 2) - 0.5) * step
    colors = _colors(data)
    fig = _figure_with_legend_room(names)
    axes = fig.subplots(1, 2)
    for name in names:
        counts, _ = np.histogram(samples[name], bins=edges)
        density = counts / max(samples[name].size, 1) / step
        style = {k: v for k, v in _line_style(name, colors).items() if k not in ("marker", "markersize")}
        for ax in axes:
            ax.stairs(density, edges, label=name, **style)
    axes[1].set_yscale("log")
    for ax, scale in zip(axes, ("linear", "log")):
        ax.set_xlabel("noise (noisy − clean)")
        ax.set_ylabel(f"density ({scale})")
        ax.grid(alpha=0.3)
    _figure_legend(fig, names)
    return (
        f'<p class="legend">Histograms of the noise values, all with the same {len(edges) - 1} bins of width '
        f"{levels}/255 over ±{edges[-1]:.3f}; density over all samples (values outside the range count in the "
        "total but are not drawn).</p>" + img_of_figure(fig, "noise histograms")
    )


def _spectrum_figure(data: ReportData, names: list[str]) -> str:
    colors = _colors(data)
    channels = min(data.nps[n].power.shape[0] for n in names)
    titles = CHANNEL_NAMES if channels == 3 else ("luminance",)
    fig = _figure_with_legend_room(names)
    axes = fig.subplots(1, len(titles), sharey=True, squeeze=False)[0]
    for c, ax in enumerate(axes):
        for name in names:
            spectrum = data.nps[name]
            power = np.where(spectrum.power[c] > 0, spectrum.power[c], np.nan)
            ax.plot(spectrum.frequency, power, label=name, **_line_style(name, colors))
        ax.set_yscale("log")
        ax.set_title(titles[c])
        ax.set_xlabel("frequency (cycles / pixel)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("noise power")
    _figure_legend(fig, names)
    return (
        '<p class="legend">Radially averaged noise power spectrum (white noise of variance v is flat at v; '
        "the first bin includes the noise mean).</p>" + img_of_figure(fig, "noise power spectra")
    )


def _curve_names(data: ReportData, available: dict) -> list[str]:
    """Real first (drawn as the reference), then the models in report order."""
    names = [n for n in _ordered(data.model_order, available) if n not in REFERENCE_ROWS]
    return (["real"] if "real" in available else []) + names


def _colors(data: ReportData) -> dict[str, object]:
    palette = matplotlib.colormaps["tab10"].colors
    everything = [*data.model_order, *data.crops, *data.nlf, *data.nps, *data.noise_samples, *data.denoised]
    models = [n for n in dict.fromkeys(everything) if n not in (*REFERENCE_ROWS, "clean")]
    return {n: palette[i % len(palette)] for i, n in enumerate(models)}


def _line_style(name: str, colors: dict[str, object]) -> dict:
    if name == "real":
        return {"color": "black", "linewidth": 2.8, "zorder": 5}
    index = list(colors).index(name) if name in colors else 0
    return {
        "color": colors.get(name, "gray"),
        "linewidth": 1.4,
        "linestyle": "-" if index < 10 else "--",
        "marker": "o",
        "markersize": 2.5,
    }


def _legend_columns(names: Sequence[str]) -> int:
    longest = max(len(n) for n in names)
    return max(1, min(len(names), LEGEND_WIDTH_CHARS // (longest + 6)))


def _figure_with_legend_room(names: Sequence[str]) -> Figure:
    rows = math.ceil(len(names) / _legend_columns(names))
    return Figure(figsize=(FIGURE_WIDTH_IN, 3.0 + 0.25 * rows), dpi=FIGURE_DPI, layout="constrained")


def _figure_legend(fig: Figure, names: Sequence[str]) -> None:
    fig.legend(
        *fig.axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=_legend_columns(names),
        frameon=False,
    )


def _level_section(data: ReportData) -> Section:
    section = Section("levels", "Level control", "")
    control = data.results.get("level_control") or {}
    names = [n for n in _ordered(data.model_order, control) if n not in REFERENCE_ROWS]
    if not names:
        section.body = note_paragraph("No per-image noise levels in this report.")
        return section
    colors = _colors(data)
    fig = _figure_with_legend_room(names)
    ax = fig.subplots()
    asked_all = [v * 255.0 for n in names for v in control[n]["asked"]]
    low, high = min(asked_all), max(asked_all)
    ax.fill_between([low, high], [0.85 * low, 0.85 * high], [1.15 * low, 1.15 * high], color="0.9", label="within 15 %")
    ax.plot([low, high], [low, high], color="black", linewidth=1.0)
    for name in names:
        style = _line_style(name, colors)
        asked = np.asarray(control[name]["asked"]) * 255.0
        produced = np.asarray(control[name]["produced"]) * 255.0
        ax.scatter(
            asked, produced, s=14, color=style["color"], label=name, marker="o" if style["linestyle"] == "-" else "x"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")  # models that are far off in level would squash the rest on a linear axis
    ax.set_xlabel("asked level (8-bit): the real noise std, or the predicted one in *_predicted_level rows")
    ax.set_ylabel("std of the produced noise (8-bit)")
    ax.grid(alpha=0.3)
    _figure_legend(fig, names)
    rows = []
    for name in names:
        asked = np.asarray(control[name]["asked"])
        ratio = np.asarray(control[name]["produced"]) / np.maximum(asked, 1e-12)
        within = float(np.mean(np.abs(ratio - 1.0) <= 0.15))
        rows.append(f"<tr><td>{esc_html(name)}</td><td>{np.median(ratio):.3f}</td><td>{100 * within:.0f} %</td></tr>")
    table = (
        "<table><tr><th>model</th><th>median produced / asked</th><th>images within 15 %</th></tr>"
        + "".join(rows) + "</table>"
    )  # fmt: skip
    section.body = (
        '<p class="legend">Each evaluation image is synthesized at its real noise std (the predicted-level rows: at '
        "the std the level predictor reads off the real noisy image); a model whose noise follows the level puts "
        "its points on the diagonal.</p>" + img_of_figure(fig, "asked level against produced noise std") + table
    )
    return section


# --------------------------------------------------------------------------- training curves
def _curves_section(data: ReportData) -> Section:
    section = Section("curves", "Training curves", "")
    if not data.curves:
        section.body = note_paragraph("No training curves in this report.")
        return section
    runs = sorted(data.curves, key=lambda name: not name.startswith("senmvae"))  # stable: SeNM-VAE runs first
    parts = []
    for run in runs:
        figure = curve_figure(run, data.curves[run])
        parts.append(f"<h3>{esc_html(run)}</h3>" + (figure or note_paragraph(f"No logged values for {run}.")))
    section.body = "\n".join(parts)
    return section


def curve_figure(run: str, curves: dict[str, Iterable[float]]) -> str | None:
    """A training-curve figure of one run, or None when nothing is finite: one small panel per series (against
    ``curves["step"]``) with its own y axis, logarithmic where all its finite values are positive, so that terms
    of different sizes stay readable; the total ``loss`` first."""
    series = {k: np.asarray(list(v), dtype=np.float64) for k, v in curves.items() if k != "step"}
    series = {k: v for k, v in series.items() if np.isfinite(v).any()}
    if not series:
        return None
    names = sorted(series, key=lambda name: name != "loss")  # stable: the rest in logged order
    step = np.asarray(list(curves.get("step", [])), dtype=np.float64)
    columns = min(CURVE_COLUMNS, len(names))
    rows = math.ceil(len(names) / columns)
    fig = Figure(figsize=(FIGURE_WIDTH_IN, CURVE_PANEL_HEIGHT_IN * rows), dpi=FIGURE_DPI, layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        values = series[name]
        x = step[: len(values)] if step.size else np.arange(len(values), dtype=np.float64)
        ax.plot(x, values[: len(x)], linewidth=1.2, color="black" if name == "loss" else "tab:blue")
        finite = values[np.isfinite(values)]
        log = bool((finite > 0).all())
        if log:
            ax.set_yscale("log")
        ax.set_title(name + (" (log)" if log else ""), fontsize="medium")
        ax.tick_params(labelsize="small")
        ax.grid(alpha=0.3, which="both")
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax in axes[len(names) - columns : len(names)]:  # the lowest panel of each column
        ax.set_xlabel("step" if step.size else "logged row", fontsize="small")
    return img_of_figure(fig, f"training curves of {run}")


# --------------------------------------------------------------------------- helpers
def _ordered(order: Sequence[str], available: Iterable[str]) -> list[str]:
    """Names of ``available`` in ``order``; names not listed in ``order`` follow in their own order."""
    available = list(available)
    return [n for n in order if n in available] + [n for n in available if n not in order]


def img_of_figure(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return f'<img class="figure" src="{_data_uri(buffer.getvalue())}" alt="{esc_html(alt)}">'


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _breakable(name: str) -> str:
    """Escaped name that may wrap after its underscores (long metric and model names in narrow headers)."""
    return "_<wbr>".join(esc_html(part) for part in name.split("_"))


def note_paragraph(text: str) -> str:
    """The one-line note that stands in for a section whose inputs are missing."""
    return f'<p class="note">{esc_html(text)}</p>'


def esc_html(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_finite(value: object) -> bool:
    """A real number that is not NaN or infinite (bools and strings are not numbers)."""
    return _is_number(value) and math.isfinite(float(value))


def _format_scalar(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if _is_number(value):
        v = float(value)
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v)}"
        return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(value, (list, tuple)) and not value:
        return "(empty)"
    if isinstance(value, (list, tuple)):
        text = (
            ", ".join(_format_scalar(v) for v in value)
            if all(not isinstance(v, (dict, list)) for v in value)
            else json.dumps(value)
        )
        return text if len(text) <= 160 else text[:157] + "…"
    if isinstance(value, dict):
        return "{}" if not value else json.dumps(value, default=str)[:160]
    return str(value)

"""An experiment's table (``results.md``) and its page (``report.html``): per cell and row, each
metric's mean and sample std over the seeds, the paper's figure beside it, and a figure with
every seed's value, so that a difference can be read against the spread."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from senmvae.atomic import write_text_atomic
from senmvae.downstream import MIN_REAL_GAIN_DB
from senmvae.evaluation.report import STYLE, esc_html, img_of_figure
from senmvae.evaluation.run import column_label

FIGURE_COLUMNS = 3


def _digits(metric: str) -> int:
    return 2 if metric.startswith("psnr") or metric.startswith("fd_") else 3 if "ssim" not in metric else 4


def _cell_text(spread: dict, digits: int) -> str:
    if not spread:
        return "–"
    text = f"{spread['mean']:.{digits}f}"
    return text + (f" ± {spread['std']:.{digits}f}" if "std" in spread else "")


def table_cells(results: dict) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows, cell by cell: every cell's own rows, then the reference rows once."""
    metrics = results["metrics"]
    header = ["cell", "paper", "SeNM-VAE steps", "row", *(column_label(m, m) for m in metrics)]
    references = results.get("reference_rows", [])
    rows, shared = [], []
    for name, cell in results["cells"].items():
        counts = [s.get("senmvae_steps", 0) for s in cell["seeds"].values()]
        steps = ", ".join(str(c) for c in counts) if any(counts) else "–"
        for row, values in cell["rows"].items():
            cells = [_cell_text(values.get(m, {}), _digits(m)) for m in metrics]
            if row in references:
                shared.append(["(every cell's split)", "–", "–", row, *cells])
            else:
                rows.append([name, cell["paper"] or "–", steps, row, *cells])
    return header, rows + shared


def table_lines(results: dict) -> list[str]:
    header, rows = table_cells(results)
    return [
        "| " + " | ".join(header) + " |",
        "|---|---|---|---|" + "---:|" * (len(header) - 4),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _footer(results: dict) -> str:
    bench = results["config"]["benchmark"]
    minutes = [s["minutes"] for c in results["cells"].values() for s in c["seeds"].values()]
    measured = f"{min(minutes, default=0):.1f}-{max(minutes, default=0):.1f}"
    budget = (
        f"budget {bench['budget_minutes']:g} min unless its cell says otherwise, " if results["kind"] == "cells" else ""
    )
    gains = [s.get("real_gain_db") for c in results["cells"].values() for s in c["seeds"].values()]
    gains = [g for g in gains if g is not None]
    validity = (
        f"The denoiser trained on real pairs beat the noisy input by {min(gains):.2f} to {max(gains):.2f} dB "
        f"({sum(g < MIN_REAL_GAIN_DB for g in gains)} of {len(gains)} runs below the {MIN_REAL_GAIN_DB:g} dB a "
        "downstream comparison needs: their PSNR columns say little). "
        if gains
        else ""
    )
    return (
        f"Seeds {results['seeds']} (mean ± sample std over them); each data set split once, the same split at every "
        "seed; "
        f"each run's {budget}{measured} min measured; {results['minutes_all_runs']:.0f} min of runs in all; "
        f"{results['machine']}. {validity}"
    ).rstrip()


def markdown(results: dict) -> str:
    return "\n".join(
        [f"# {results['title']}", "", results["paper"], "", *table_lines(results), "", _footer(results), ""]
    )


def _figure(results: dict) -> str | None:
    metrics = results["metrics"]
    cells = list(results["cells"])
    rows = list(dict.fromkeys(row for c in results["cells"].values() for row in c["rows"]))
    if not cells or not rows:
        return None
    panels = len(metrics)
    columns = min(FIGURE_COLUMNS, panels)
    fig = Figure(figsize=(4.2 * columns, 2.9 * math.ceil(panels / columns)), layout="constrained")
    axes = fig.subplots(math.ceil(panels / columns), columns, squeeze=False).ravel()
    for ax, metric in zip(axes, metrics):
        for r, row in enumerate(rows):
            offset = (r - (len(rows) - 1) / 2) * 0.12
            for i, name in enumerate(cells):
                seeds = results["cells"][name]["seeds"].values()
                values = [s["rows"].get(row, {}).get(metric) for s in seeds]
                values = [v for v in values if v is not None and math.isfinite(v)]
                ax.plot([i + offset] * len(values), values, "o", ms=4, color=f"C{r}", label=row if i == 0 else None)
        ax.set_xticks(range(len(cells)), cells, rotation=30, ha="right", fontsize=8)
        ax.set_title(column_label(metric, metric), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[panels:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    return img_of_figure(fig, "every seed's value of each metric, per cell")


def _html_table(results: dict) -> str:
    head, body = table_cells(results)
    header = "".join(f"<th>{esc_html(c)}</th>" for c in head)
    rows = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i > 3 else ''}>{esc_html(c)}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in body
    )
    return f'<table class="results"><tr>{header}</tr>{rows}</table>'


def write_experiment_report(results: dict, folder: Path) -> None:
    """``results.md`` and ``report.html`` in ``folder``; each cell's own benchmark report is linked."""
    write_text_atomic(folder / "results.md", markdown(results))
    links = "".join(
        f"<li>{esc_html(name)}, seed {seed}: <code>{esc_html(s['folder'])}</code></li>"
        for name, cell in results["cells"].items()
        for seed, s in cell["seeds"].items()
    )
    figure = _figure(results) or ""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc_html(results['title'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc_html(results['title'])}</h1>\n<p class=sub>{esc_html(results['paper'])}</p>\n"
        f"<h2>Results</h2>\n{_html_table(results)}\n<p class=legend>{esc_html(_footer(results))}</p>\n"
        f"<h2>Every seed</h2>\n{figure}\n"
        f"<h2>Runs</h2>\n<p>Each run's folder holds its own results.json (and, for benchmark cells, "
        f"report.html with pictures):</p>\n<ul>{links}</ul>\n</body>\n</html>\n"
    )
    write_text_atomic(folder / "report.html", page)

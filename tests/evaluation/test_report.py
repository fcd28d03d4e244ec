import base64
import io
import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from senmvae.evaluation.report import curve_figure, write_report
from senmvae.evaluation.report_data import ReportData
from senmvae.metrics import noise_level_function, noise_placement, noise_power_spectrum, psnr

MODELS = ["senmvae", "awgn", "heteroscedastic"]
REAL_STD = 0.03


def synthetic_data(valid: bool = True) -> ReportData:
    rng = np.random.default_rng(0)
    k, h, w = 2, 32, 32
    ramp = np.linspace(0.1, 0.9, w)[None, None, :, None]
    clean = np.broadcast_to(ramp * np.array([1.0, 0.8, 0.6]), (k, h, w, 3)).astype(np.float32).copy()
    clean[1] = clean[1, :, ::-1]
    smooth = rng.normal(0, REAL_STD, (k, h, w, 3))
    smooth = (smooth + np.roll(smooth, 1, axis=2)) / np.sqrt(2.0)  # correlated noise: a sloped spectrum
    noisy = {
        "real": clean + rng.normal(0, REAL_STD, clean.shape),
        "senmvae": clean + smooth,
        "awgn": clean + rng.normal(0, REAL_STD, clean.shape),
        "heteroscedastic": clean + rng.normal(0, 1, clean.shape) * np.sqrt(2e-4 + 2e-3 * clean),
    }
    noisy = {n: v.astype(np.float32) for n, v in noisy.items()}
    denoised = {
        n: (clean + rng.normal(0, 0.01 * (i + 1), clean.shape)).astype(np.float32)
        for i, n in enumerate(MODELS + ["real"])
    }
    denoised["noisy_input"] = noisy["real"]
    results = {
        "models": {
            "senmvae": {"psnr": 31.5, "ssim": 0.90, "kl_noise_neca": 0.051, "akld_danet": 0.2, "noise_std_8bit": 7.6},
            "awgn": {"psnr": 30.0, "ssim": 0.92, "kl_noise_neca": 0.032, "akld_danet": 0.3, "noise_std_8bit": 7.7},
            "heteroscedastic": {
                "psnr": 29.0,
                "ssim": 0.91,
                "kl_noise_neca": 0.04,
                "akld_danet": 0.25,
                "noise_std_8bit": 9.9,
            },
            "real": {"psnr": 33.0, "ssim": 0.95, "kl_noise_neca": 0.0, "akld_danet": 0.0, "noise_std_8bit": 7.65},
            "noisy_input": {"psnr": 25.0 if valid else 32.6, "ssim": 0.60},
        },
        "downstream": {"real_gain_db": 8.0 if valid else 0.4, "min_gain_db": 1.0, "valid": valid},
        "timing": {"data_s": 3.2, "total_s": 1830.0},
        "config": {"budget_minutes": 30.0, "shares": {"senmvae": 0.4}},
        "machine": "2 CPU cores",
        "level_control": {
            n: {"asked": [0.02, 0.03, 0.04], "real": [0.02, 0.03, 0.04], "produced": [0.021, 0.02875, 0.04125]}
            for n in MODELS
        },
    }
    steps = [float(s) for s in range(0, 100, 10)]
    curves = {
        "dncnn/awgn": {"step": steps, "loss": [1.0 / (s + 1) for s in steps]},
        "senmvae": {"step": steps, "loss": [2.0 - s / 100 for s in steps], "kl_zn": [0.5 + s / 100 for s in steps]},
        "senmvae_paired_only": {"step": steps, "loss": [1.0 - s / 50 for s in steps]},  # goes negative: linear y
    }
    return ReportData(
        results=results,
        model_order=MODELS + ["real"],
        crops={"clean": clean, **{n: np.clip(v, 0, 1) for n, v in noisy.items()}},
        denoised=denoised,
        nlf={n: noise_level_function(v, clean, bins=8) for n, v in noisy.items()},
        nps={n: noise_power_spectrum(v, clean, bins=8) for n, v in noisy.items()},
        placement={n: noise_placement(v, clean) for n, v in noisy.items()},
        noise_samples={n: (v - clean).ravel() for n, v in noisy.items()},
        curves=curves,
    )


class TableParser(HTMLParser):
    """Cells of the results table: header names and {row: {metric: (text, bold)}}."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.rows: list[list[tuple[str, bool]]] = []
        self.cell: list[str] | None = None
        self.bold = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == "results-table":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell, self.bold = [], False
        elif self.inside and tag == "strong":
            self.bold = True

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(("".join(self.cell).strip(), self.bold))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def results_table(page: str) -> tuple[list[str], dict[str, dict[str, tuple[str, bool]]]]:
    parser = TableParser()
    parser.feed(page)
    header, *rows = parser.rows
    metrics = [text.split()[0] for text, _ in header[1:]]
    arrows = {m: text.split()[1:] for m, (text, _) in zip(metrics, header[1:])}
    return metrics, {row[0][0]: dict(zip(metrics, row[1:])) for row in rows}, arrows


def section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def images_in(text: str) -> list[Image.Image]:
    uris = re.findall(r'<img [^>]*src="([^"]+)"', text)
    assert len(uris) == text.count("<img")
    images = []
    for uri in uris:
        assert uri.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        image.load()
        images.append(image)
    return images


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    data = synthetic_data()
    out = tmp_path_factory.mktemp("report")
    path = write_report(out, data)
    return data, out, path, path.read_text(encoding="utf-8")


def test_one_self_contained_file(full_report):
    _, out, path, page = full_report
    assert path == out / "report.html"
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:", page)
    assert "<link" not in page and "<script" not in page
    assert set(re.findall(r'src="([a-z]+:)', page)) == {"data:"}


def test_table_lists_every_model_and_metric(full_report):
    _, _, _, page = full_report
    metrics, rows, arrows = results_table(page)
    assert list(rows) == ["senmvae", "awgn", "heteroscedastic", "real", "noisy_input"]
    assert metrics == ["psnr", "ssim", "kl_noise_neca", "akld_danet", "noise_std_8bit"]  # METRICS order, then unknown
    # one format per column: 4 significant digits of its largest value
    assert rows["awgn"]["kl_noise_neca"][0] == "0.03200"
    assert rows["noisy_input"]["kl_noise_neca"][0] == "–"
    assert arrows == {"psnr": ["↑"], "ssim": ["↑"], "kl_noise_neca": ["↓"], "akld_danet": ["↓"], "noise_std_8bit": []}
    legend = section(page, "results")
    assert "SeNM-VAE Table 1" not in legend  # kl_intensity_senmvae is absent from the results
    assert "NeCA&#x27;s KLD (noise histograms, official NeCA code)" in legend


def test_best_value_is_bold_and_references_are_not_ranked(full_report):
    _, _, _, page = full_report
    _, rows, _ = results_table(page)
    bold = {m: [r for r in rows if rows[r].get(m, ("", False))[1]] for m in rows["senmvae"]}
    assert bold["psnr"] == ["senmvae"]  # higher is better; real (33.0) is a reference
    assert bold["ssim"] == ["awgn"]
    assert bold["kl_noise_neca"] == ["awgn"]  # lower is better; real (0.0) is a reference
    assert bold["akld_danet"] == ["senmvae"]
    assert bold["noise_std_8bit"] == []  # not a registered metric: no direction


def test_header_is_the_verdict_and_run_facts_come_last(full_report):
    _, _, _, page = full_report
    header = page[: page.index("<section")]
    assert 'class="banner valid"' in header and "8 dB" in header
    assert 'class="banner invalid"' not in page and "whose comparison is invalid" not in page
    # the bold cells of the table, grouped by model: senmvae best on psnr and akld_danet, awgn on ssim and kl
    verdict = re.sub(r"<[^>]+>", "", re.search(r'<p class="verdict">(.*?)</p>', header).group(1))
    assert verdict.endswith(": senmvae on psnr, akld_danet; awgn on ssim, kl_noise_neca.")
    assert "total_s" not in header and "budget_minutes" not in header and "<details" not in header
    run = section(page, "run")
    assert "total_s" in run and "1830 (30 min 30 s)" in run
    assert "budget_minutes" in run and "shares.senmvae" in run and "2 CPU cores" in run
    assert "<details><summary>configuration" in run  # collapsed


def test_results_and_pictures_come_before_the_per_image_lists(full_report):
    _, _, _, page = full_report
    anchors = re.findall(r'<section id="([^"]+)">', page)
    assert anchors[:2] == ["results", "crops"] and anchors[-2:] == ["run", "per-image"]
    assert page.index('id="results-table"') < page.index("<img") < page.index("0.02875")
    per_image = section(page, "per-image")
    assert per_image.count("<details>") == 1 and "<details open" not in per_image
    assert "<code>level_control</code>: 9 lists of up to 3 images" in per_image
    assert page.count("0.02875") == 3  # each produced list once, in the collapsed section only
    rows = re.findall(r"<tr><th>(\w+)</th><th>(\w+)</th>((?:<td[^>]*>[^<]*</td>)+)</tr>", per_image)
    assert [(name, field) for name, field, _ in rows[:3]] == [("senmvae", f) for f in ("asked", "real", "produced")]
    assert re.findall(r">([^<]+)</td>", rows[2][2]) == ["0.021", "0.02875", "0.04125"]


def test_each_curve_term_gets_a_readable_panel(tmp_path):
    """A term a million times smaller than the total loss still spans most of its own panel's height."""
    steps = [float(s) for s in range(50)]
    curves = {"step": steps, "loss": [1000.0 + 10.0 * math.sin(s / 5) for s in steps]}
    curves["kl_zn"] = [0.001 * (1.0 + s / 50) for s in steps]
    figure = images_in(curve_figure("run", curves))[0].convert("RGB")
    pixels = np.asarray(figure).astype(int)
    blue = np.abs(pixels - np.array([31, 119, 180])).sum(axis=2) < 60  # the term's line (tab:blue)
    rows = np.flatnonzero(blue.any(axis=1))
    assert rows.size and rows[-1] - rows[0] > 0.5 * figure.height
    six_terms = {"step": steps} | {f"term{i}": [float(i + 1)] * 50 for i in range(6)}
    assert images_in(curve_figure("run", six_terms))[0].height == 2 * images_in(curve_figure("run", curves))[0].height


def test_image_counts_per_section(full_report):
    data, _, _, page = full_report
    k = len(data.crops["clean"])
    assert len(images_in(section(page, "crops"))) == k * (2 + 3) + k * (1 + 3)  # noisy grid + noise grid
    assert len(images_in(section(page, "nlf"))) == 1
    assert len(images_in(section(page, "placement"))) == 1
    assert len(images_in(section(page, "noise"))) == 2  # histograms, spectra
    assert len(images_in(section(page, "curves"))) == 3
    assert len(images_in(section(page, "denoised"))) == k * (1 + 4 + 1)  # input, 3 models + real, clean
    assert len(images_in(section(page, "levels"))) == 1
    assert page.count("<img") == 38
    figures = [im for im in images_in(page) if im.width > 200]
    assert len(figures) == 8 and all(850 <= im.width <= 950 for im in figures)


def test_crops_are_shown_at_their_own_pixels(full_report):
    data, _, _, page = full_report
    crops = section(page, "crops")
    first = images_in(crops)[0]
    assert np.array_equal(np.asarray(first), np.round(data.crops["clean"][0].astype(np.float64) * 255).astype(np.uint8))
    # noise grid: x5 for a real noise std of 0.03 (+-3 std of it fills [0, 1])
    assert "× 5, around 0.5 gray" in crops
    real_noise = images_in(crops)[2 * 5]
    expected = np.round(
        np.clip(0.5 + 5 * (data.crops["real"][0].astype(np.float64) - data.crops["clean"][0]), 0, 1) * 255
    )
    assert np.abs(np.asarray(real_noise).astype(int) - expected).max() <= 1


def test_denoised_captions_give_crop_psnr(full_report):
    data, _, _, page = full_report
    denoised = section(page, "denoised")
    for name in ("awgn", "noisy_input"):
        value = float(psnr(data.denoised[name][1].astype(np.float64), data.crops["clean"][1].astype(np.float64))[0])
        assert f"{value:.2f} dB" in denoised
    titles = [re.sub(r"<wbr>", "", t) for t in re.findall(r'<th class="col"[^>]*>(.*?)</th>', denoised)]
    assert titles == ["noisy input", "senmvae", "awgn", "heteroscedastic", "real", "clean"]


def test_curves_put_senmvae_runs_first(full_report):
    _, _, _, page = full_report
    curves = section(page, "curves")
    titles = re.findall(r"<h3>([^<]+)</h3>", curves)
    assert titles == ["senmvae", "senmvae_paired_only", "dncnn/awgn"]


def test_invalid_downstream_banner(tmp_path):
    page = write_report(tmp_path / "r.html", synthetic_data(valid=False)).read_text(encoding="utf-8")
    header = page[: page.index("<section")]
    assert 'class="banner invalid"' in header
    assert "Downstream comparison invalid" in header and "0.4 dB" in header and "less than the 1 dB needed" in header
    assert "whose comparison is invalid" in section(page, "results")
    verdict = re.sub(r"<[^>]+>", "", re.search(r'<p class="verdict">(.*?)</p>', header).group(1))
    assert verdict.endswith("(psnr and ssim left out: the downstream comparison is invalid): "
                            "senmvae on akld_danet; awgn on kl_noise_neca.")  # fmt: skip


def test_missing_sections_become_notes(tmp_path):
    data = ReportData(results={"models": {"awgn": {"psnr": 30.0}}}, model_order=["awgn"], crops={})
    page = write_report(tmp_path / "report.html", data).read_text(encoding="utf-8")
    assert "<img" not in page
    assert "No downstream (denoiser) evaluation" in page
    for anchor, note in [
        ("crops", "No image crops"),
        ("nlf", "No noise level functions"),
        ("placement", "No noise placement"),
        ("noise", "No noise samples"),
        ("noise", "No noise power spectra"),
        ("curves", "No training curves"),
        ("denoised", "No denoised crops"),
    ]:
        assert note in section(page, anchor)
    _, rows, _ = results_table(page)
    assert rows == {"awgn": {"psnr": ("30", True)}}

    empty = write_report(tmp_path / "empty", ReportData(results={}, model_order=[], crops={}))
    assert "No per-model results" in empty.read_text(encoding="utf-8")


def test_mismatched_crops_are_refused(tmp_path):
    data = synthetic_data()
    data.crops["awgn"] = data.crops["awgn"][:, :16]
    with pytest.raises(ValueError, match="same K windows"):
        write_report(tmp_path, data)

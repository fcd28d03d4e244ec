import base64
import io
import re

import numpy as np
from PIL import Image

from senmvae.evaluation.report import write_report
from senmvae.evaluation.report_data import ReportData
from senmvae.metrics import noise_structure


def _section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def _figures(text: str) -> list[Image.Image]:
    uris = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', text)
    return [Image.open(io.BytesIO(base64.b64decode(uri))) for uri in uris]


def test_each_noise_model_gets_a_structure_panel_against_the_real_noise(tmp_path):
    rng = np.random.default_rng(0)
    clean = np.full((2, 32, 32, 3), 0.5)
    white = rng.normal(0, 0.02, (2, 33, 32, 3))
    correlated = (white[:, 1:] + white[:, :-1]) / np.sqrt(2)  # vertical lag-1 correlation 1/2
    noisy = {"real": clean + correlated, "awgn": clean + white[:, 1:], "colored_heteroscedastic": clean + correlated}
    data = ReportData(
        results={"models": {name: {"lag1": 0.0} for name in noisy}},
        model_order=["awgn", "colored_heteroscedastic", "real"],
        crops={},
        structure={name: noise_structure(images, clean) for name, images in noisy.items()},
    )
    page = write_report(tmp_path / "report.html", data).read_text(encoding="utf-8")
    structure = _section(page, "structure")
    assert len(_figures(structure)) == 2  # one per noise model, none for the real noise itself
    assert 'alt="noise structure of awgn against the real noise"' in structure
    assert structure.index("of awgn") < structure.index("of colored_heteroscedastic")


def test_the_structure_section_says_what_is_missing(tmp_path):
    clean = np.full((1, 16, 16, 3), 0.5)
    noisy = clean + np.random.default_rng(1).normal(0, 0.02, clean.shape)
    measured = noise_structure(noisy, clean)
    only_model = ReportData(results={}, model_order=["awgn"], crops={}, structure={"awgn": measured})
    page = write_report(tmp_path / "a.html", only_model).read_text(encoding="utf-8")
    assert "No noise structure of the real noise" in _section(page, "structure")
    only_real = ReportData(results={}, model_order=[], crops={}, structure={"real": measured})
    page = write_report(tmp_path / "b.html", only_real).read_text(encoding="utf-8")
    assert "No noise structure of any noise model" in _section(page, "structure")

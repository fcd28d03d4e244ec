import re

import numpy as np

from senmvae.evaluation.sr_report import SRReportData, write_sr_report


def test_the_sr_report_opens_with_the_verdict_and_ends_with_the_run_facts(tmp_path):
    rng = np.random.default_rng(0)
    hr = rng.uniform(0, 1, (2, 8, 8, 3))
    results = {
        "models": {"senmvae": {"psnr_y": 25.0}, "bicubic": {"psnr_y": 24.0}, "real_pairs": {"psnr_y": 26.0}},
        "model_order": ["senmvae", "bicubic", "real_pairs"],
        "verdict": {"winner_psnr_y": "senmvae", "senmvae_margin_psnr_y_db": 1.0},
        "data": {"eval_pairs": 2, "simulated": True},
        "timing": {"total_s": 600.0},
    }
    data = SRReportData(results=results, lr_crops={"B(HR)": hr, "real LR": hr}, sr_crops={"HR": hr})
    page = write_sr_report(tmp_path / "report.html", data).read_text(encoding="utf-8")
    header = page[: page.index("<section")]
    assert "winner_psnr_y" in header and "senmvae_margin_psnr_y_db" in header
    assert header.index("winner_psnr_y") < header.index("<nav>")
    assert "eval_pairs" not in header and "total_s" not in header
    anchors = re.findall(r'<section id="([^"]+)">', page)
    assert anchors == ["results", "lr", "sr", "curves", "run"]
    run = page[page.index('<section id="run">') :]
    assert "eval_pairs" in run and "total_s" in run and "10 min 00 s" in run

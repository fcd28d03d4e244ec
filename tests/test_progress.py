"""Progress bars: a live tqdm bar on a terminal, a few whole lines (with an ETA) anywhere else."""

import io

from tqdm import tqdm

from senmvae.progress import LineProgressBar, progress_bar


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_tenth_and_no_carriage_returns():
    log = io.StringIO()
    for step in progress_bar(range(1000), desc="training", unit="step", file=log):
        if step == 500:
            tqdm.write("a message between the lines", file=log)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert "a message between the lines" in lines
    counts = [line.split()[2] for line in lines if line.startswith("training:")]
    assert counts == [f"{100 * tenth}/1000" for tenth in range(11)]
    assert all("<" in line for line in lines if line.startswith("training:"))  # elapsed<remaining: the ETA


def test_a_bar_stopped_early_ends_with_its_last_count():
    log = io.StringIO()
    bar = progress_bar(total=37, desc="denoiser", file=log, leave=False)
    for _ in range(20):
        bar.update(1)
        bar.set_postfix({"loss": "0.25"}, refresh=False)
    bar.close()
    lines = log.getvalue().splitlines()
    # 0 %, then the first count at or past each tenth (4, 8, 12, 15, 19 of 37), then the count at close
    assert [line.split()[2] for line in lines] == ["0/37", "4/37", "8/37", "12/37", "15/37", "19/37", "20/37"]
    assert lines[-1].endswith("loss=0.25]")
    assert "\r" not in log.getvalue()


def test_without_a_total_lines_come_at_doubling_counts():
    log = io.StringIO()
    for _ in progress_bar(iter(range(100)), desc="features", unit="img", file=log):
        pass
    counts = [line.split()[1] for line in log.getvalue().splitlines()]
    assert counts == ["0img", "1img", "2img", "4img", "8img", "16img", "32img", "64img", "100img"]


def test_nested_bars_write_lines_in_turn():
    log = io.StringIO()
    outer = progress_bar(total=2, desc="outer", file=log)
    for _ in range(2):
        for _ in progress_bar(range(5), desc="inner", file=log, leave=False):
            pass
        outer.update(1)
    outer.close()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text  # no cursor movement
    assert all(line.startswith(("outer:", "inner:")) for line in text.splitlines())


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    assert list(progress_bar(range(50), file=log, disable=True)) == list(range(50))
    assert log.getvalue() == ""


def test_a_terminal_gets_tqdms_live_bar():
    terminal = TerminalStream()
    bar = progress_bar(range(3), file=terminal)
    assert type(bar) is tqdm
    list(bar)
    assert "\r" in terminal.getvalue()
    assert isinstance(progress_bar(range(3), file=io.StringIO()), LineProgressBar)

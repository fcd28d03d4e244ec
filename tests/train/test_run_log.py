import json

from senmvae.train.run_log import MetricsLog, read_metrics, training_seconds


def test_lines_after_the_resume_step_and_a_cut_line_are_dropped(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=False)
    for step in (1, 2, 3, 4):
        log.write(step, "train", {"loss": step / 10})
    log.write(4, "validation", {"noise_kl": 0.5})
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 5, "kind": "tr')  # killed mid-line
    log = MetricsLog(tmp_path, start_step=2, tensorboard=False)
    log.write(3, "train", {"loss": 0.9})
    log.close()
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["kind"]) for r in records] == [(1, "train"), (2, "train"), (3, "train")]
    assert records[-1]["loss"] == 0.9
    assert all(json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines())


def test_tensorboard_event_files_are_written(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=True)
    log.write(1, "train", {"loss": 1.0})
    log.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_training_seconds_add_each_lines_step_time_over_its_steps():
    records = [
        {"step": 10, "kind": "train", "seconds_per_step": 0.5},
        {"step": 10, "kind": "validation", "noise_kl": 1.0},
        {"step": 30, "kind": "train", "seconds_per_step": 1.0},
    ]
    assert training_seconds(records) == 25.0 and training_seconds([]) == 0

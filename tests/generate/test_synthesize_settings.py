"""An output folder holds the outputs of one set of generation settings: a rerun that changes any of them is
refused, naming the setting, and leaves the folder as it was."""

import pytest

from senmvae.cli.main import main
from senmvae.model import save_model
from tests.generate.helpers import stochastic_tiny, write_clean_folder

BASE = {
    "--sampler": "content-exact",
    "--temperature": "1.0",
    "--tile-size": "64",
    "--tile-overlap": "16",
    "--bits": "8",
}


def synthesize(model, clean, out, *flags, **changes):
    options = BASE | changes
    arguments = ["synthesize", "--model", str(model), "--input", str(clean), "--output", str(out)]
    arguments += ["--level", "0.02", "--no-progress", "--device", "cpu", *flags]
    return main(arguments + [item for pair in options.items() for item in pair])


def folder_state(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def made(tmp_path):
    model = save_model(stochastic_tiny(), tmp_path / "model.safetensors")
    clean = write_clean_folder(tmp_path / "clean", [(24, 32)])
    out = tmp_path / "out"
    assert synthesize(model, clean, out) == 0
    return model, clean, out


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"--sampler": "paper"}, "sampler: 'content-exact' then, 'paper' now"),
        ({"--temperature": "0.5"}, "temperature: 1.0 then, 0.5 now"),
        ({"--tile-size": "32"}, "tile_size: 64 then, 32 now"),
        ({"--tile-overlap": "8"}, "tile_overlap: 16 then, 8 now"),
        ({"--bits": "16"}, "bits: 8 then, 16 now"),
    ],
    ids=["sampler", "temperature", "tile_size", "tile_overlap", "bits"],
)
def test_a_changed_setting_is_refused_by_name_and_the_folder_is_kept(made, capsys, changes, expected):
    model, clean, out = made
    before = folder_state(out)
    capsys.readouterr()
    assert synthesize(model, clean, out, **changes) == 2
    error = capsys.readouterr().err
    assert expected in error and "holds outputs made with other settings" in error
    assert error.count(" then, ") == 1  # only the changed setting is named
    assert folder_state(out) == before


def test_matching_the_level_is_a_setting_of_the_folder(made, capsys, tmp_path):
    model, clean, out = made
    before = folder_state(out)
    capsys.readouterr()
    assert synthesize(model, clean, out, "--match-level") == 2
    error = capsys.readouterr().err
    assert "match_level: False then, True now" in error and error.count(" then, ") == 1
    assert folder_state(out) == before
    assert synthesize(model, clean, out, "--no-match-level") == 0  # the model's default, said explicitly
    assert "(matched exactly)" not in capsys.readouterr().out
    assert synthesize(model, clean, tmp_path / "matched", "--match-level") == 0
    assert "; level: fixed 0.02 (matched exactly);" in capsys.readouterr().out


def test_a_model_file_rewritten_in_place_is_refused(made, capsys):
    model, clean, out = made
    before = folder_state(out)
    save_model(stochastic_tiny(seed=1), model)  # same path, other weights (a retrained run's export)
    capsys.readouterr()
    assert synthesize(model, clean, out) == 2
    error = capsys.readouterr().err
    assert "model_sha256: " in error and error.count(" then, ") == 1
    assert folder_state(out) == before


def test_the_same_settings_are_accepted_and_keep_the_outputs(made):
    model, clean, out = made
    before = folder_state(out)
    assert synthesize(model, clean, out) == 0
    after = folder_state(out)
    assert {k: v for k, v in after.items() if k.endswith(".png")} == {
        k: v for k, v in before.items() if k.endswith(".png")
    }

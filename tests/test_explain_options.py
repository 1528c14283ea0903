"""``explain`` options: each checked before any work, one line each; what a run skips is said."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from celebalab.errors import DataFormatError
from celebalab.explain.regions import load_region_table
from embedding_runs import make_attribute_run


def _explain(tmp_path: Path, *extra: str, run: Path | None = None, root: Path | None = None) -> int:
    from celebalab.cli import main

    run, root = run or tmp_path / "run", root or tmp_path
    return main(["explain", str(run), str(root), "--out", str(tmp_path / "out"), *extra])


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--methods", ""], "--methods"),
        (["--methods", " , "], "--methods"),
        (["--attributes", ""], "--attributes"),
    ],
)
def test_empty_lists_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], expected: str
) -> None:
    assert _explain(tmp_path, *extra) == 2
    assert expected in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("entry", "words"),
    [({"Smiling": ["mouth", 5]}, "Smiling.*5"), ({"Smiling": "mouth"}, "Smiling.*list")],
)
def test_region_entries_are_lists_of_names(tmp_path: Path, entry: dict, words: str) -> None:
    (tmp_path / "r.json").write_text(json.dumps(entry))
    with pytest.raises(DataFormatError, match=rf"r\.json: {words}"):
        load_region_table(tmp_path / "r.json")


def test_region_file_is_checked_before_the_run_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "r.json").write_text('{"Smiling": ["mouth", 5]}')
    assert _explain(tmp_path, "--regions", str(tmp_path / "r.json")) == 2
    assert "r.json" in _one_error_line(capsys)


def test_out_below_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "afile").write_text("x")
    from celebalab.cli import main

    argv = ["explain", str(tmp_path / "run"), str(tmp_path), "--out", str(tmp_path / "afile/sub")]
    assert main(argv) == 2
    assert "afile" in _one_error_line(capsys)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_attribute_run(tmp_path_factory.mktemp("explain_run") / "run")


def test_attribute_without_region_refused_before_masks_are_packed(
    tmp_path: Path, synth_root: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from celebalab.datasets import mask_pack

    def no_packing(*args, **kwargs):
        raise AssertionError("packed masks before checking the options")

    monkeypatch.setattr(mask_pack, "open_or_pack_label_maps", no_packing)
    argv = ("--attributes", "Attractive", "--methods", "center")
    assert _explain(tmp_path, *argv, run=run_dir, root=synth_root / "CelebA") == 2
    assert "Attractive" in _one_error_line(capsys)
    assert not (tmp_path / "out" / ".checkpoints").exists()


def test_a_failed_run_leaves_no_checkpoint_stamp(tmp_path: Path, capsys) -> None:
    assert _explain(tmp_path, "--methods", "center") == 2  # no run folder
    _one_error_line(capsys)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_skipped_attribute_is_said(
    tmp_path: Path, synth_root: Path, run_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ("--attributes", "Smiling,Eyeglasses", "--methods", "center", "--n", "2")
    assert _explain(tmp_path, *argv, run=run_dir, root=synth_root / "CelebA") == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if "Eyeglasses" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "test" in notes[0]


def test_hq_without_masks_does_not_suggest_the_split_it_used(
    tmp_path: Path, synth_root: Path, run_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    hq = tmp_path / "hq"
    no_masks = shutil.ignore_patterns("CelebAMask-HQ-mask-anno", ".celebalab*")
    shutil.copytree(synth_root / "CelebAMask-HQ", hq, ignore=no_masks)
    argv = ("--attributes", "Smiling", "--methods", "center", "--split", "all")
    assert _explain(tmp_path, *argv, run=run_dir, root=hq) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the mask pack's progress bar
    assert err.startswith("error: ") and "--split all" not in err and "mask" in err


def test_nested_settings_have_their_own_flags_and_seed_sets_both() -> None:
    """``explain``'s flags come from ExplainConfig and its nested settings' fields (their flag
    metadata); one ``--seed`` sets the run's seed and the falsification test's."""
    import typer
    from typer.testing import CliRunner

    from celebalab.cli_options import with_options
    from celebalab.explain import ExplainConfig

    seen = []

    @with_options(ExplainConfig)
    def command(options: dict) -> None:
        seen.append(ExplainConfig.from_dict(options))

    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)  # two commands: invoked by name
    argv = ["command", "--seed", "3", "--ig-steps", "4", "--fr-q", "0.2", "--fr-batch-size", "8",
            "--methods", "ig,center", "--samples", "1"]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    config = seen[0]
    assert config.seed == 3 and config.falsification.seed == 3
    assert config.attribution.ig_steps == 4 and config.falsification.top_fraction == 0.2
    assert config.falsification.batch_size == 8 and config.batch_size == 32
    assert config.methods == ("ig", "center") and config.samples == 1
    assert config.attribution.lime_samples == ExplainConfig().attribution.lime_samples

"""The assembled ``celebalab`` command: help, one-line user errors, exit codes passed through."""

from __future__ import annotations

from celebalab.cli import main


def test_help_lists_every_group(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("data", "stats", "train", "evaluate", "predict"):
        assert command in out


def test_user_error_is_one_line_with_status_2(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and str(tmp_path) in err


def test_usage_error_is_a_message_not_a_traceback(capsys):
    assert main(["data", "synth"]) == 2  # missing OUT argument
    assert "Missing" in capsys.readouterr().err


def test_command_exit_status_is_kept(tmp_path, capsys):
    assert main(["data", "verify", str(tmp_path), "--no-progress"]) == 1
    assert "layout" in capsys.readouterr().out


def test_synth_refuses_zero_workers_before_writing(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["data", "synth", str(out), "--n", "4", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "workers" in err
    assert not out.exists()

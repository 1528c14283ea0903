"""Progress through logging + tqdm (celebalab._progress): one switch, no ``progress`` argument."""

from __future__ import annotations

import logging
import warnings

import pytest

from celebalab import _progress


def test_bars_follow_the_celebalab_logger_and_only_the_outermost_draws() -> None:
    with _progress.shown(False):
        assert not _progress.showing() and _progress.bar(total=3).disable
    with _progress.shown(True):
        assert _progress.showing() and _progress.bars_shown()
        with _progress.bar(total=3) as outer:
            assert not outer.disable
            assert _progress.bar(total=2).disable  # inside a drawing bar: quiet
        with _progress.shown(True, bars=False):
            assert _progress.showing() and _progress.bar(total=3).disable


def test_a_library_user_sees_no_progress_until_logging_says_so() -> None:
    logger = logging.getLogger("celebalab")
    assert logger.getEffectiveLevel() > logging.INFO  # nothing configured (pytest leaves WARNING)
    assert _progress.bar(total=3).disable
    logger.setLevel(logging.INFO)
    try:
        assert not _progress.bar(total=3).disable
    finally:
        logger.setLevel(logging.NOTSET)


def test_lines_go_to_stderr_and_the_setting_is_put_back(capsys: pytest.CaptureFixture) -> None:
    logger = logging.getLogger("celebalab")
    before = (logger.level, logger.propagate, list(logger.handlers))
    undo = _progress.configure(True)
    logging.getLogger("celebalab.datasets.packed").info("resuming %s", "x.partial")
    undo()
    logging.getLogger("celebalab.datasets.packed").info("not shown")
    assert capsys.readouterr().err == "resuming x.partial\n"
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_no_progress_flag_hides_progress_for_the_command_only(tmp_path) -> None:
    from celebalab.cli import main

    seen = []
    real = _progress.configure

    def spy(show: bool, **kwargs):
        seen.append(show)
        return real(show, **kwargs)

    _progress.configure = spy  # type: ignore[assignment]
    try:
        assert main(["data", "verify", str(tmp_path), "--no-progress"]) == 1
    finally:
        _progress.configure = real  # type: ignore[assignment]
    assert seen == [True, False]  # the CLI's default, then the flag
    assert not _progress.showing()  # both put back when the command ended


def test_the_old_progress_keyword_still_works_and_warns(tmp_path) -> None:
    from celebalab.datasets.verify import verify_dataset

    with pytest.warns(DeprecationWarning, match="progress"):
        report = verify_dataset(tmp_path, progress=False)
    assert not report.ok
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verify_dataset(tmp_path)  # the new call: no warning

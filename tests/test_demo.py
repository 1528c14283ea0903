"""``make demo`` end to end on tiny synthetic data: every stage runs, the report is whole."""

from __future__ import annotations

import pytest

from celebalab.demo import DemoOptions, main, prepare_output, run_demo
from celebalab.errors import CelebalabError


@pytest.mark.slow
def test_tiny_demo_writes_the_whole_report(tmp_path, capsys):
    options = DemoOptions(
        out=tmp_path / "demo", n=160, n_hq=6, size=32, epochs=1, batch_size=32, faces_shown=2
    )
    report = run_demo(options)
    html = report.read_text()
    for title in (
        "Pipeline",
        "Synthetic faces and their masks",
        "Which region causes each attribute",
        "Attribute frequencies",
        "Classifier training",
        "Drawn vs sampled-only",
    ):
        assert title in html, title
    assert (options.out / "run" / "run.json").exists()
    assert (options.out / "stats" / "summary.json").exists()
    # a second run may reuse the demo's own folder (here it then stops on a bad --n)
    assert main(["--out", str(options.out), "--n", "0"]) == 2
    assert "--n must be >= 1, got 0" in capsys.readouterr().err


def test_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(CelebalabError, match="not made by the demo"):
        prepare_output(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.slow
def test_sigterm_stops_the_demo_with_one_line(tmp_path):
    """A scheduler's SIGTERM ends ``python -m celebalab.demo`` within seconds: one line, 143."""
    from signals import stop_when

    out = tmp_path / "demo"
    # signalled once the synthetic data is written (the stages after it read that data)
    args = ["--out", str(out), "--n", "400", "--n-hq", "20"]
    stopped = stop_when(args, (out / "data" / "synthetic_truth.json").exists,
                        module="celebalab.demo")  # fmt: skip
    assert stopped.returncode == 143 and stopped.seconds < 10
    lines = stopped.stderr.strip().splitlines()
    assert "Traceback" not in stopped.stderr
    assert lines[-1] == ("stopped by SIGTERM; the demo starts again from the beginning when run "
                         "again (make demo)")  # fmt: skip

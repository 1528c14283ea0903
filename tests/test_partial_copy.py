"""A partial copy (official annotation files, few images present): cost and output follow the
images present, and missing images are one line and one file, never a line each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from celeba_trees import celeba_truth, official_texts, write_image
from celebalab.cli import main
from celebalab.datasets.dataset import open_dataset
from celebalab.datasets.packed import PackedImages, PackPaths
from embedding_runs import make_attribute_run

ROWS, EVERY = 1500, 50  # 30 images present of 1,500 annotated rows
PRESENT = ROWS // EVERY


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("partial") / "CelebA"
    root.mkdir()
    truth = celeba_truth(ROWS)
    for name, text in official_texts(truth).items():
        (root / name).write_bytes(text.encode())
    for row in range(0, ROWS, EVERY):
        write_image(root / "img_align_celeba" / truth["image_id"][row], seed=row)
    return root


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CELEBALAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _lines(captured: pytest.CaptureResult[str]) -> list[str]:
    """Printed lines (a progress bar's redraws, after carriage returns, count as one line)."""
    text = captured.out + captured.err
    return [line for line in text.split("\n") if line.strip()]


def test_pack_stores_present_rows_and_prints_a_handful_of_lines(
    partial: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "pack", str(partial), "--size", "16", "--workers", "1"]) == 0
    lines = _lines(capsys.readouterr())
    dataset = open_dataset(partial)
    presence = (
        f"{PRESENT} of {ROWS:,} images present; {ROWS - PRESENT:,} missing "
        f"(listed in {dataset.missing_file})"
    )
    assert presence in lines and len(lines) <= 4, lines
    assert len(dataset.missing_file.read_text().splitlines()) == ROWS - PRESENT
    paths = PackPaths.of(partial, 16, "center")
    assert paths.data.stat().st_size == PRESENT * 16 * 16 * 3  # size follows the images present
    manifest = json.loads(paths.manifest.read_text())
    assert (manifest["count"], manifest["stored"], manifest["valid_count"]) == (ROWS, PRESENT, 30)
    assert manifest["missing"] == ROWS - PRESENT and manifest["corrupt"] == []
    assert paths.manifest.stat().st_size < 4096  # counts and a path, not the list
    assert not paths.progress.exists()
    pack = PackedImages.open(partial, 16)
    assert pack is not None and pack.rows.tolist() == list(range(0, ROWS, EVERY))
    assert pack.usable.sum() == PRESENT and (pack.positions(np.arange(3)) == [0, -1, -1]).all()


def test_extract_reads_only_present_rows(
    partial: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_attribute_run(tmp_path / "run")
    out = tmp_path / "emb"
    assert main(["embed", "extract", str(run), str(partial), "--out", str(out), "--workers", "0",
                 "--no-progress"]) == 0  # fmt: skip
    lines = _lines(capsys.readouterr())
    assert len(lines) <= 4, lines
    assert any(line.startswith(f"{PRESENT} of {ROWS:,} images present") for line in lines)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == PRESENT and manifest["skipped"] == []
    missing = manifest["missing"]
    assert missing["count"] == ROWS - PRESENT and Path(missing["list"]).is_file()
    assert (out / "manifest.json").stat().st_size < 8192


def test_a_format_1_pack_still_opens_and_is_reused(partial: Path, cache: Path) -> None:
    """Packs written before (every table row stored, missing rows invalid) are read as they are."""
    from celebalab.datasets.packed import pack_images

    result = pack_images(partial, 8, workers=1)
    paths = PackPaths.of(partial, 8, "center")
    dense = np.zeros((ROWS, 8, 8, 3), np.uint8)
    dense[::EVERY] = np.fromfile(paths.data, np.uint8).reshape(PRESENT, 8, 8, 3)
    dense.tofile(paths.data)
    ids = open_dataset(partial).image_ids.tolist()
    import pyarrow as pa
    import pyarrow.parquet as pq

    valid = np.zeros(ROWS, bool)
    valid[::EVERY] = True
    pq.write_table(pa.table({"image_id": ids, "valid": valid}), paths.index)
    manifest = json.loads(paths.manifest.read_text())
    manifest.update(format=1, shape=[ROWS, 8, 8, 3])
    del manifest["stored"]
    paths.manifest.write_text(json.dumps(manifest))
    old = PackedImages.open(partial, 8, image_ids=ids)
    assert old is not None and len(old) == ROWS and old.usable.sum() == PRESENT
    np.testing.assert_array_equal(old.images[old.positions(np.array([EVERY]))], dense[[EVERY]])
    again = pack_images(partial, 8, workers=1)
    assert again.reused and again.stored == ROWS and result.stored == PRESENT

"""Packed image cache: pixels vs a plain PIL pipeline, order, corrupt files, resume, memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from celeba_trees import celeba_truth, official_texts, write_hq
from celebalab.datasets import packed
from celebalab.datasets.decode import load_resized
from celebalab.datasets.packed import PackedImages, pack_images
from celebalab.options import ConfigError

W, H = 178, 218  # aligned CelebA image size


def _face_like(rng: np.random.Generator, width: int = W, height: int = H) -> Image.Image:
    """A smooth random colour field plus fine noise: compresses and resizes like a photo."""
    coarse = (rng.random((height // 20 + 2, width // 20 + 2, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    noise = rng.normal(0, 6, smooth.shape)
    return Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8))


def make_celeba(root: Path, n: int, seed: int = 0) -> list[str]:
    """Official-layout CelebA: the published annotation files and ``n`` 178×218 JPEGs."""
    truth = celeba_truth(n, seed)
    root.mkdir(parents=True)
    for name, text in official_texts(truth).items():
        (root / name).write_bytes(text.encode())
    rng = np.random.default_rng(seed)
    (root / "img_align_celeba").mkdir()
    ids = truth["image_id"].tolist()
    for image_id in ids:
        _face_like(rng).save(root / "img_align_celeba" / image_id, quality=90)
    return ids


def reference(path: Path, size: int, crop: str = "center") -> np.ndarray:
    """What a user would write: full decode, crop the central square, antialiased resize."""
    im = Image.open(path).convert("RGB")
    if crop == "center":
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side))
    return np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def celeba(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("celeba") / "CelebA"
    make_celeba(root, 40)
    return root


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache folder per test, so packs of the shared dataset never collide."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CELEBALAB_CACHE", str(folder))
    return folder


def table_ids(root: Path) -> list[str]:
    from celebalab.datasets.table import load_table

    return load_table(root)["image_id"].tolist()


@pytest.mark.parametrize("crop", ["center", "none"])
def test_decode_matches_plain_pil(celeba: Path, crop: str) -> None:
    for path in sorted((celeba / "img_align_celeba").iterdir())[:6]:
        exact = load_resized(path, 64, crop, draft=False)
        assert exact.shape == (64, 64, 3) and exact.dtype == np.uint8
        full = Image.open(path).convert("RGB")
        box = (0, 20, W, W + 20) if crop == "center" else (0, 0, W, H)
        same = full.resize((64, 64), Image.Resampling.BICUBIC, box=box)
        np.testing.assert_array_equal(exact, np.asarray(same))
        # resizing the box reads context beyond it (no edge clamping): only edge rows differ
        assert mean_abs_diff(exact, reference(path, 64, crop)) < 0.5
        # DCT-scaled decoding (1/2 here) changes pixels a little: bounded, documented in decode.py
        fast = load_resized(path, 64, crop)
        assert mean_abs_diff(fast, exact) < 2.0
        assert mean_abs_diff(fast, reference(path, 64, crop)) < 2.0
        assert np.percentile(np.abs(fast.astype(int) - exact), 99) <= 12


def test_decode_square_hq_image(tmp_path: Path) -> None:
    path = tmp_path / "0.jpg"
    _face_like(np.random.default_rng(3), 512, 512).save(path, quality=90)
    with Image.open(path) as im:  # 512 → 64 decodes at 1/8 scale: no resize work left
        im.draft("RGB", (64, 64))
        assert im.size == (64, 64)
    fast = load_resized(path, 64, "center")
    assert mean_abs_diff(fast, reference(path, 64)) < 2.0
    np.testing.assert_array_equal(load_resized(path, 64, "center"), load_resized(path, 64, "none"))


def test_pack_rows_follow_metadata_order(celeba: Path, cache: Path) -> None:
    result = pack_images(celeba, 32, workers=1, chunk_size=8)
    assert (result.count, result.chunks_total, result.chunks_packed) == (40, 5, 5)
    assert result.path.parent == cache / os.listdir(cache)[0] and not result.corrupt
    pack = PackedImages.open(celeba, 32)
    assert pack is not None and len(pack) == 40 and (pack.size, pack.crop) == (32, "center")
    ids = table_ids(celeba)
    assert list(pack.image_ids) == ids
    assert pack.images.shape == (40, 32, 32, 3) and pack.images.dtype == np.uint8
    assert pack.valid.dtype == np.bool_ and pack.valid.all()
    for row, image_id in enumerate(ids):
        assert pack.row_of(image_id) == row
        ref = reference(celeba / "img_align_celeba" / image_id, 32)
        assert mean_abs_diff(pack.images[row], ref) < 2.0
    with pytest.raises(KeyError, match="not in the packed cache"):
        pack.row_of("999999.jpg")
    manifest = json.loads(result.manifest_path.read_text())
    assert (
        manifest["count"] == 40 and manifest["resample"] == "bicubic" and manifest["corrupt"] == []
    )
    assert (
        manifest["celebalab_version"] and manifest["created"] and manifest["source"]["files"] == 40
    )
    assert (
        PackedImages.open(celeba, 32, crop="none") is None and PackedImages.open(celeba, 16) is None
    )
    assert PackedImages.open(celeba, 32, image_ids=ids) is not None
    assert PackedImages.open(celeba, 32, image_ids=ids[::-1]) is None
    again = pack_images(celeba, 32, workers=1, chunk_size=8)
    assert again.reused and again.chunks_packed == 0


def test_celebamask_hq_root(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "CelebAMask-HQ"
    write_hq(root, n=6)
    rng = np.random.default_rng(5)
    for i in range(6):  # square "HQ" images large enough for 1/8-scale JPEG decoding
        _face_like(rng, 256, 256).save(root / "CelebA-HQ-img" / f"{i}.jpg", quality=90)
    result = pack_images(root, 32, workers=2, chunk_size=2)
    assert result.count == 6 and not result.corrupt
    pack = PackedImages.open(root, 32)
    assert pack is not None and pack.image_ids == [f"{i}.jpg" for i in range(6)]
    for row, image_id in enumerate(pack.image_ids):
        ref = reference(root / "CelebA-HQ-img" / image_id, 32)
        assert mean_abs_diff(pack.images[row], ref) < 2.0


def test_corrupt_images_are_listed_and_skipped(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "CelebA"
    ids = make_celeba(root, 20, seed=1)
    folder = root / "img_align_celeba"
    data = (folder / ids[3]).read_bytes()
    (folder / ids[3]).write_bytes(data[: len(data) // 2])  # truncated JPEG
    (folder / ids[7]).write_bytes(b"")  # zero bytes
    (folder / ids[11]).write_text("not an image\n")  # not an image
    (folder / ids[15]).unlink()  # missing: not stored, counted and listed in one file
    bad = {ids[3], ids[7], ids[11]}

    result = pack_images(root, 32, workers=2, chunk_size=4)
    assert {c["image_id"] for c in result.corrupt} == bad
    assert (result.count, result.stored, result.missing) == (20, 19, 1)
    assert result.missing_file is not None and result.missing_file.read_text() == f"{ids[15]}\n"
    reasons = {c["image_id"]: c["reason"] for c in result.corrupt}
    assert reasons[ids[7]] == "empty file (0 bytes)"
    assert "truncated" in reasons[ids[3]] and reasons[ids[11]] == "cannot identify image file"
    pack = PackedImages.open(root, 32)
    assert pack is not None and ids[15] not in pack.image_ids and len(pack) == 19
    assert pack.positions(np.arange(20))[15] == -1 and not pack.usable[15]
    for row, image_id in enumerate(pack.image_ids):
        assert pack.valid[row] == (image_id not in bad)
        if image_id in bad:
            assert not pack.images[row].any()
        else:
            assert mean_abs_diff(pack.images[row], reference(folder / image_id, 32)) < 2.0
    manifest = json.loads(result.manifest_path.read_text())
    assert {c["image_id"] for c in manifest["corrupt"]} == bad and manifest["valid_count"] == 16
    assert manifest["missing"] == 1 and manifest["missing_list"] == str(result.missing_file)


_KILL_AFTER = """
import os, signal, sys
from celeba_trees import celeba_truth, official_texts, write_hq

from celebalab.datasets import packed

root, k = sys.argv[1], int(sys.argv[2])
saves = 0
record = packed._Job.record

def record_then_die(job, chunk, corrupt):
    global saves
    record(job, chunk, corrupt)
    saves += 1
    if saves == k:  # one log line per finished chunk
        os.kill(os.getpid(), signal.SIGKILL)

packed._Job.record = record_then_die
packed.pack_images(root, 32, workers=1, chunk_size=8)
"""


def test_resume_after_kill_9(celeba: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER, str(celeba), "2"], env=env)
    assert proc.returncode == -signal.SIGKILL
    paths = packed.PackPaths.of(celeba, 32, "center")
    assert paths.partial.exists() and not paths.manifest.exists() and not paths.data.exists()
    assert PackedImages.open(celeba, 32) is None  # incomplete packs are never read
    lines = paths.progress.read_text().splitlines()  # append-only: the plan, then a chunk each
    done = {json.loads(line)["chunk"] for line in lines[1:]}
    assert len(done) == 2 and "plan" in json.loads(lines[0])

    decoded: list[int] = []

    def spy(chunk: packed._Chunk) -> tuple[int, list[tuple[int, str]]]:
        decoded.append(chunk.index)
        return real(chunk)

    real = packed._pack_chunk
    monkeypatch.setattr(packed, "_pack_chunk", spy)
    resumed = pack_images(celeba, 32, workers=1, chunk_size=8)
    assert sorted(decoded) == sorted(set(range(5)) - {int(c) for c in done})
    assert resumed.chunks_packed == 3 and not paths.progress.exists()

    monkeypatch.setattr(packed, "_pack_chunk", real)
    monkeypatch.setenv("CELEBALAB_CACHE", str(cache.parent / "clean"))
    pack_images(celeba, 32, workers=1, chunk_size=8)
    clean = PackedImages.open(celeba, 32)
    monkeypatch.setenv("CELEBALAB_CACHE", str(cache))
    again = PackedImages.open(celeba, 32)
    assert clean is not None and again is not None
    np.testing.assert_array_equal(np.asarray(again.images), np.asarray(clean.images))
    np.testing.assert_array_equal(again.valid, clean.valid)


def test_manifest_is_written_last(
    celeba: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = packed.PackPaths.of(celeba, 32, "none")
    real_write = packed.write_json_atomic

    def crash_on_manifest(path: Path, obj: object) -> Path:
        if Path(path) == paths.manifest:
            raise KeyboardInterrupt("killed just before the manifest")
        return real_write(path, obj)

    monkeypatch.setattr(packed, "write_json_atomic", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        pack_images(celeba, 32, crop="none", workers=1, chunk_size=16)
    assert paths.data.exists() and paths.index.exists()
    assert PackedImages.open(celeba, 32, crop="none") is None

    monkeypatch.setattr(packed, "write_json_atomic", real_write)
    finished = pack_images(celeba, 32, crop="none", workers=1, chunk_size=16)
    assert finished.chunks_packed == 0 and not finished.reused  # nothing decoded again
    pack = PackedImages.open(celeba, 32, crop="none")
    assert pack is not None
    path = celeba / "img_align_celeba" / pack.image_ids[5]
    assert mean_abs_diff(pack.images[5], reference(path, 32, "none")) < 2.0


def test_stale_pack_is_rebuilt(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "CelebA"
    ids = make_celeba(root, 12, seed=2)
    pack_images(root, 16, workers=1, chunk_size=4)
    changed = root / "img_align_celeba" / ids[4]
    Image.new("RGB", (W, H), (255, 0, 0)).save(changed, quality=95)
    os.utime(changed, ns=(1, 1))
    result = pack_images(root, 16, workers=1, chunk_size=4)
    assert not result.reused and result.chunks_packed == 3
    pack = PackedImages.open(root, 16)
    assert pack is not None
    assert np.abs(pack.images[4].astype(int) - [255, 0, 0]).max() <= 3


def test_workers_1_and_2_are_identical(
    celeba: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack_images(celeba, 24, workers=2, chunk_size=6)
    two = PackedImages.open(celeba, 24)
    monkeypatch.setenv("CELEBALAB_CACHE", str(cache.parent / "one"))
    pack_images(celeba, 24, workers=1, chunk_size=6)
    one = PackedImages.open(celeba, 24)
    assert one is not None and two is not None
    np.testing.assert_array_equal(np.asarray(one.images), np.asarray(two.images))
    assert one.image_ids == two.image_ids


def test_peak_memory_does_not_grow_with_n(tmp_path: Path, cache: Path) -> None:
    size, peaks = 64, []
    for n in (16, 96):
        root = tmp_path / f"n{n}"
        make_celeba(root, n, seed=n)
        tracemalloc.start()
        pack_images(root, size, workers=1, chunk_size=8)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    images_bytes = (96 - 16) * size * size * 3
    # holding the decoded images would add ~1 MB; metadata for 80 more rows is a few KB
    assert peaks[1] - peaks[0] < 0.2 * images_bytes, peaks


def test_bad_arguments(celeba: Path, cache: Path) -> None:
    with pytest.raises(ConfigError, match="--size"):
        pack_images(celeba, 0)
    with pytest.raises(ConfigError, match="--crop"):
        pack_images(celeba, 32, crop="left")


def test_pack_command(celeba: Path, cache: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from celebalab.datasets.cli import pack_command

    app = typer.Typer()
    app.command("pack")(pack_command)
    app.command("other")(lambda: None)
    out = CliRunner().invoke(app, ["pack", str(celeba), "--size", "16", "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert "packed 40 rows" in out.output and "images/s" in out.output
    out = CliRunner().invoke(app, ["pack", str(celeba), "--size", "16"])
    assert out.exit_code == 0 and "up to date" in out.output

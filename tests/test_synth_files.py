"""Synthetic dataset files: official formats, round trips, masks vs label maps, determinism."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from celebalab.datasets.masks import combine_part_masks
from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    LANDMARK_COLUMNS,
    MASK_CLASS_VALUES,
    MASK_PART_NAMES,
)
from celebalab.datasets.synth import ATTRIBUTE_REGIONS, SynthOptions, generate, make_plan
from celebalab.datasets.synth._appearance import face_parameters
from celebalab.datasets.synth._geometry import sketch_face
from celebalab.datasets.synth._regions import attribute_regions_json
from celebalab.datasets.synth._render import Canvas, _light_tiles, render
from celebalab.datasets.table import load_table
from celebalab.options import ConfigError
from cli_errors import refused_in_one_line
from signals import stop_when

N, N_HQ, SEED = 120, 40, 0  # as in conftest.synth_root


@pytest.fixture(scope="module")
def plan():
    return make_plan(N, SEED, n_hq=N_HQ)


@pytest.fixture(scope="module")
def truth(synth_root: Path) -> pd.DataFrame:
    return pd.read_parquet(synth_root / "CelebA" / "synthetic_truth.parquet")


def _read_txt(path: Path, skip: int) -> pd.DataFrame:
    """Independent minimal reader: whitespace-separated, first column = file name."""
    return pd.read_csv(path, sep=r"\s+", skiprows=skip, header=None, index_col=0)


def test_celeba_files_byte_format(synth_root: Path) -> None:
    attr = (synth_root / "CelebA" / "list_attr_celeba.txt").read_bytes()
    lines = attr.split(b"\r\n")
    assert lines[0] == b"120" and lines[1] == " ".join(ATTRIBUTE_NAMES).encode() + b" "
    assert lines[2].startswith(b"000001.jpg ") and len(lines[2]) == 10 + 3 * 40
    assert attr.endswith(b"\r\n") and b"\n" not in attr.replace(b"\r\n", b"")
    part = (synth_root / "CelebA" / "list_eval_partition.txt").read_bytes()
    assert part.startswith(b"000001.jpg 0\r\n")
    marks = (synth_root / "CelebA" / "list_landmarks_align_celeba.txt").read_bytes().split(b"\r\n")
    assert marks[1].startswith(b"lefteye_x lefteye_y righteye_x")
    hq = (synth_root / "CelebAMask-HQ" / "CelebAMask-HQ-attribute-anno.txt").read_bytes()
    assert b"\r" not in hq and hq.split(b"\n")[2].startswith(b"0.jpg  ")
    mapping = (synth_root / "CelebAMask-HQ" / "CelebA-HQ-to-CelebA-mapping.txt").read_text()
    assert mapping.startswith("idx        orig_idx   orig_file\n")
    pose = (synth_root / "CelebAMask-HQ" / "CelebAMask-HQ-pose-anno.txt").read_text().split("\n")
    assert pose[:2] == ["40", "Yaw Pitch Raw"]


def test_round_trip_with_independent_reader(synth_root: Path, plan, truth: pd.DataFrame) -> None:
    celeba = synth_root / "CelebA"
    attrs = _read_txt(celeba / "list_attr_celeba.txt", 2)
    assert list(attrs.index[:2]) == ["000001.jpg", "000002.jpg"]
    assert np.array_equal((attrs.to_numpy() + 1) // 2, plan.labels)
    assert np.array_equal(_read_txt(celeba / "list_eval_partition.txt", 0)[1], plan.partition)
    assert np.array_equal(_read_txt(celeba / "identity_CelebA.txt", 0)[1], plan.identity)
    # the truth table holds the drawn attributes; written = drawn except the recorded label noise
    drawn = truth[list(ATTRIBUTE_NAMES)].to_numpy()
    assert np.array_equal(drawn, plan.true_attrs)
    for row, flipped in zip(drawn != plan.labels, truth["label_noise"], strict=True):
        assert set(np.asarray(ATTRIBUTE_NAMES)[row]) == set(filter(None, flipped.split(",")))
    hq = synth_root / "CelebAMask-HQ"
    hq_attrs = _read_txt(hq / "CelebAMask-HQ-attribute-anno.txt", 2)
    assert np.array_equal((hq_attrs.to_numpy() + 1) // 2, plan.labels[plan.hq_orig])
    mapping = pd.read_csv(hq / "CelebA-HQ-to-CelebA-mapping.txt", sep=r"\s+")
    assert np.array_equal(mapping["orig_idx"], plan.hq_orig)
    assert list(mapping["orig_file"][:1]) == [f"{plan.hq_orig[0] + 1:06d}.jpg"]
    pose = _read_txt(hq / "CelebAMask-HQ-pose-anno.txt", 2).to_numpy()
    assert np.allclose(
        pose,
        truth[["render_yaw", "render_pitch", "render_roll"]].to_numpy()[plan.hq_orig],
        atol=1e-4,
    )


def test_round_trip_with_load_table(synth_root: Path, plan) -> None:
    df = load_table(synth_root / "CelebA", refresh=True)
    assert np.array_equal(df[list(ATTRIBUTE_NAMES)].to_numpy(), plan.labels)
    assert np.array_equal(df["partition"], plan.partition)
    assert np.array_equal(df["identity"], plan.identity)
    landmarks = _read_txt(synth_root / "CelebA" / "list_landmarks_align_celeba.txt", 2).to_numpy()
    assert np.array_equal(df[list(LANDMARK_COLUMNS)], landmarks)
    hq = load_table(synth_root / "CelebAMask-HQ", refresh=True)
    assert np.array_equal(hq["orig_idx"], plan.hq_orig)
    assert np.array_equal(hq[list(ATTRIBUTE_NAMES)].to_numpy(), plan.labels[plan.hq_orig])
    assert np.array_equal(hq["partition"], plan.partition[plan.hq_orig])


def _masks(synth_root: Path, j: int) -> dict[str, np.ndarray]:
    folder = synth_root / "CelebAMask-HQ" / "CelebAMask-HQ-mask-anno" / str(j // 2000)
    out = {}
    for part in MASK_PART_NAMES:
        path = folder / f"{j:05d}_{part}.png"
        if path.exists():
            img = Image.open(path)
            assert img.mode == "L" and set(np.unique(np.asarray(img)).tolist()) <= {0, 255}
            out[part] = np.asarray(img) > 0
    return out


def _face(plan, truth_index: int):
    return face_parameters(
        SEED, truth_index, int(plan.ident_index[truth_index]), plan.true_attrs[truth_index]
    )


def test_masks_disjoint_and_recombine_to_label_map(synth_root: Path, plan) -> None:
    for j in range(0, N_HQ, 7):
        parts = _masks(synth_root, j)
        assert {"skin", "nose"} <= set(parts)
        stack = np.stack(list(parts.values()))
        assert stack.sum(axis=0).max() == 1  # disjoint: each pixel in at most one mask
        combined = np.zeros(stack.shape[1:], dtype=np.uint8)
        for name, value in MASK_CLASS_VALUES.items():  # authors' painting order
            if name in parts:
                combined[parts[name]] = value
        face = _face(plan, int(plan.hq_orig[j]))
        expected = np.asarray(render(face, Canvas.hq(256), sketch_face(face)).labels)
        assert np.array_equal(combined, expected)
        assert np.array_equal(combine_part_masks(parts), expected)


def test_label_maps_match_images(synth_root: Path, plan, truth: pd.DataFrame) -> None:
    """Interior pixels of a class carry that class's colour (e.g. hat pixels are hat-coloured)."""
    checked = 0
    for i in range(N):
        row = truth.iloc[i]
        if row["Blurry"]:
            continue
        image = np.asarray(
            Image.open(synth_root / "CelebA" / "img_align_celeba" / row["image_id"]), float
        )
        labels = np.asarray(
            Image.open(synth_root / "CelebA" / "synthetic_label_maps" / f"{i + 1:06d}.png")
        )
        assert labels.shape == image.shape[:2] == (218, 178)
        for cls, column in (
            ("hat", "render_hat_colour"),
            ("hair", "render_hair"),
            ("skin", "render_skin"),
            ("cloth", "render_cloth"),
        ):
            inside = ndimage.binary_erosion(labels == MASK_CLASS_VALUES[cls], iterations=2)
            if inside.sum() < 40 or (cls == "cloth" and row["Wearing_Necktie"]):
                continue
            base = np.array([int(row[column][k : k + 2], 16) for k in (1, 3, 5)], float)
            light = np.asarray(_light_tiles(178, 218)[row["render_light_dir"]], float) / 255
            got, expected = (
                np.median(image[inside], axis=0),
                np.median(base * light[inside], axis=0),
            )
            assert np.linalg.norm(got - expected) < 45, (i, cls, got, expected)
            checked += 1
    assert checked > 100


def test_landmarks_inside_their_regions(synth_root: Path, truth: pd.DataFrame) -> None:
    marks = _read_txt(synth_root / "CelebA" / "list_landmarks_align_celeba.txt", 2).to_numpy()
    wanted = (
        {"r_eye", "eye_g"},
        {"l_eye", "eye_g"},
        {"nose"},
        {"u_lip", "l_lip", "mouth"},
        {"u_lip", "l_lip", "mouth"},
    )
    for i in range(N):
        labels = np.asarray(
            Image.open(synth_root / "CelebA" / "synthetic_label_maps" / f"{i + 1:06d}.png")
        )
        for k, classes in enumerate(wanted):
            x, y = marks[i, 2 * k], marks[i, 2 * k + 1]
            near = labels[y - 2 : y + 3, x - 2 : x + 3]
            assert np.isin(near, [MASK_CLASS_VALUES[c] for c in classes]).any(), (i, k, classes)
        bx, by, bw, bh = _read_txt(synth_root / "CelebA" / "list_bbox_celeba.txt", 2).to_numpy()[i]
        assert bx < marks[i, 0] < marks[i, 2] < bx + bw and by < marks[i, 1] < marks[i, 7] < by + bh


def test_attributes_are_drawn_in_their_regions(synth_root: Path, truth: pd.DataFrame) -> None:
    present = {}
    for i in range(N):
        labels = np.asarray(
            Image.open(synth_root / "CelebA" / "synthetic_label_maps" / f"{i + 1:06d}.png")
        )
        present[i] = set(np.unique(labels).tolist())
    for attr, cls in (
        ("Wearing_Hat", "hat"),
        ("Eyeglasses", "eye_g"),
        ("Wearing_Earrings", "ear_r"),
        ("Wearing_Necklace", "neck_l"),
        ("Mouth_Slightly_Open", "mouth"),
    ):
        has = np.array([MASK_CLASS_VALUES[cls] in present[i] for i in range(N)])
        assert np.array_equal(has, truth[attr].to_numpy() == 1), attr


def test_truth_json(synth_root: Path) -> None:
    info = json.loads((synth_root / "synthetic_truth.json").read_text())
    assert info["seed"] == SEED and info["n"] == N and info["n_hq"] == N_HQ
    assert info["attribute_regions"] == attribute_regions_json()
    assert set(info["attribute_regions"]) == set(ATTRIBUTE_REGIONS)
    assert info["sizes"] == {"aligned": [178, 218], "hq": 256, "mask": 256}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "synthetic_truth.json"
    }


def test_deterministic_across_runs_and_workers(tmp_path: Path) -> None:
    kwargs = dict(n=30, seed=5, n_hq=10, hq_size=64, shortcuts=["Smiling:mouth"], chunk_size=8)
    a = _tree(generate(tmp_path / "a", workers=1, **kwargs).out)
    b = _tree(generate(tmp_path / "b", workers=2, **kwargs).out)
    c = _tree(generate(tmp_path / "c", workers=1, **{**kwargs, "seed": 6}).out)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert a["CelebA/img_align_celeba/000001.jpg"] != c["CelebA/img_align_celeba/000001.jpg"]


def test_sizes_and_shortcut_only_in_region(tmp_path: Path) -> None:
    res = generate(
        tmp_path / "s",
        16,
        seed=1,
        n_hq=4,
        hq_size=96,
        mask_size=48,
        aligned_size=(89, 109),
        shortcuts=["Male:background"],
        workers=1,
    )
    img = Image.open(res.celeba_root / "img_align_celeba" / "000001.jpg")
    assert img.size == (89, 109)
    assert Image.open(res.hq_root / "CelebA-HQ-img" / "0.jpg").size == (96, 96)
    assert Image.open(next((res.hq_root / "CelebAMask-HQ-mask-anno" / "0").glob("*.png"))).size == (
        48,
        48,
    )
    truth = pd.read_parquet(res.truth_table)
    assert "cue:Male:background" in truth.columns
    # the cue changes background pixels only
    plan = make_plan(16, 1, n_hq=4)
    face = _face(plan, 0)
    plain = render(face, Canvas.aligned(), sketch_face(face))
    face.cue_tints = ((0, ("background",)),)
    cued = render(face, Canvas.aligned(), sketch_face(face))
    changed = np.abs(np.asarray(plain.image, int) - np.asarray(cued.image, int)).sum(axis=2) > 0
    background = ndimage.binary_dilation(np.asarray(plain.labels) == 0, iterations=1)
    assert changed.sum() > 1000 and not np.any(changed & ~background)


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["--aligned-size", "178"], "--aligned-size must be WIDTHxHEIGHT, e.g. 178x218, not '178'"),
     (["--aligned-size", "12x300"], "--aligned-size must be at least 16 pixels a side"),
     (["--hq-size", "8"], "--hq-size must be >= 16, got 8"),
     (["--n", "4", "--n-hq", "9"], "--n-hq must be between 0 and --n (4); got 9"),
     (["--pairs", "Smilng"], "--pairs must be a known pair attribute, not 'Smilng'"),
     (["--images-per-identity", "0.5"], "--images-per-identity must be >= 1, got 0.5")],
)  # fmt: skip
def test_synth_options_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], words: str
) -> None:
    """data synth's flags come from SynthOptions: a bad one is one line, nothing written."""
    out = tmp_path / "s"
    refused_in_one_line(["data", "synth", str(out), *argv], capsys, words)
    assert not out.exists()


def test_synth_options_check_generate_and_refuse_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--pairs-per-attribute must be >= 1, got 0"):
        generate(tmp_path / "s", 4, pairs_per_attribute=0)
    with pytest.raises(ConfigError, match="unknown synthesis option"):
        SynthOptions.from_dict({"count": 4})
    assert not (tmp_path / "s").exists()


def test_synth_command_takes_shortcut_repeatedly(tmp_path: Path) -> None:
    from celebalab.cli import main

    out = tmp_path / "s"
    argv = ["data", "synth", str(out), "--n", "6", "--n-hq", "2", "--hq-size", "32", "--workers",
            "1", "--aligned-size", "89x109", "--shortcut", "Male:background", "--shortcut",
            "Smiling:mouth"]  # fmt: skip
    assert main(argv) == 0
    truth = pd.read_parquet(out / "CelebA" / "synthetic_truth.parquet")
    assert {"cue:Male:background", "cue:Smiling:mouth"} <= set(truth.columns)
    assert Image.open(out / "CelebA" / "img_align_celeba" / "000001.jpg").size == (89, 109)


def _generation_peak(tmp_path: Path, n: int) -> int:
    tracemalloc.start()
    generate(
        tmp_path / f"m{n}",
        n,
        seed=0,
        n_hq=n // 10,
        hq_size=32,
        aligned_size=(89, 109),
        workers=1,
        chunk_size=15,
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.slow
def test_memory_does_not_grow_with_n(tmp_path: Path) -> None:
    small, large = _generation_peak(tmp_path, 30), _generation_peak(tmp_path, 120)
    assert large - small < 400_000, (small, large)  # < 4.5 kB per extra image (one image: 29 kB)


@pytest.mark.slow
def test_sigterm_stops_synth_and_the_same_command_finishes_it(tmp_path: Path) -> None:
    from celebalab.cli import main

    out = tmp_path / "out"
    args = ["data", "synth", str(out), "--n", "600", "--n-hq", "8", "--workers", "1"]
    images = out / "CelebA" / "img_align_celeba"
    stopped = stop_when(args, ready=lambda: images.is_dir() and any(images.iterdir()))
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert stopped.seconds < 10
    assert stopped.stderr.strip().splitlines()[-1] == (
        "stopped by SIGTERM; the work done is kept; to resume, run: celebalab " + " ".join(args)
    )
    assert not (out / "synthetic_truth.json").exists()
    assert main(args) == 0
    reference = tmp_path / "reference"
    generate(reference, 600, n_hq=8, workers=1)
    for name in ("list_attr_celeba.txt", "img_align_celeba/000600.jpg"):
        assert (out / "CelebA" / name).read_bytes() == (reference / "CelebA" / name).read_bytes()

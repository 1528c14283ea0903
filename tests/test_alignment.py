"""Face alignment: the similarity fit against an independent least-squares solve, warps that put
landmarks on the template, and dlib's detector, predictor and descriptor on the real samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from celebalab.alignment import (
    ARCFACE_112,
    FacePrep,
    NoFaceError,
    apply_similarity,
    descriptor_model,
    detect_face,
    fit_similarity,
)

SAMPLES = Path(__file__).parent / "data" / "formats" / "celeba" / "img_align_celeba"
#: Official landmarks of the two samples (list_landmarks_align_celeba.txt, rows 1 and 2).
SAMPLE_LANDMARKS = {
    "000001.jpg": [69, 109, 106, 113, 77, 142, 73, 152, 108, 154],
    "000002.jpg": [69, 110, 107, 112, 81, 135, 70, 151, 108, 153],
}


def _lstsq_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Independent reference: x' = a·x − b·y + tx, y' = b·x + a·y + ty solved by lstsq."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        rhs += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def _similarity(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def test_similarity_fit_recovers_a_known_transform_and_matches_lstsq() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    truth = _similarity(0.4, 1.7, (12.0, -30.0))
    assert np.allclose(fit_similarity(src, apply_similarity(truth, src)), truth, atol=1e-9)
    noisy = apply_similarity(truth, src) + rng.normal(0, 2.0, (5, 2))
    assert np.allclose(fit_similarity(src, noisy), _lstsq_similarity(src, noisy), atol=1e-9)


def _blob_image(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Gaussian blobs (σ = 2.5 px) at ``points``: their centroids locate the points sub-pixel."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width), np.float64)
    for x, y in points:
        image += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2))
    return np.repeat((255 * np.clip(image, 0, 1)).astype(np.uint8)[..., None], 3, axis=2)


def _centroids(image: np.ndarray, near: np.ndarray, radius: int = 6) -> np.ndarray:
    grey = image[..., 0].astype(np.float64)
    yy, xx = np.mgrid[0 : grey.shape[0], 0 : grey.shape[1]]
    out = []
    for x, y in near:
        window = (np.abs(xx - x) <= radius) & (np.abs(yy - y) <= radius)
        weight = grey * window
        out.append([(weight * xx).sum() / weight.sum(), (weight * yy).sum() / weight.sum()])
    return np.array(out)


@pytest.mark.parametrize("scale", [2.0, 0.8])
def test_warped_landmarks_land_on_the_arcface_template(scale: float) -> None:
    """Points placed by a known similarity from the template come back onto it (≤ 0.5 px),
    also when the warp first shrinks the image (scale 2: a 2× larger face)."""
    to_image = _similarity(-0.3, scale, (60.0, 40.0))
    landmarks = apply_similarity(to_image, ARCFACE_112)
    photo = _blob_image(landmarks, 400, 400)
    prep = FacePrep.for_template("arcface", 112)
    aligned = prep.prepare(photo, landmarks).image
    assert aligned.shape == (112, 112, 3)
    found = _centroids(aligned, ARCFACE_112)
    assert np.abs(found - ARCFACE_112).max() <= 0.5


def _sample(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB"))


def test_dlib_finds_the_real_sample_faces_and_their_eyes_match_the_landmark_file() -> None:
    for name, marks in SAMPLE_LANDMARKS.items():
        face = detect_face(_sample(name))
        assert face.faces_found == 1
        official_eyes = np.array(marks[:4], np.float64).reshape(2, 2)
        assert np.abs(face.eye_centres - official_eyes).max() < 4.0


def test_dlib_descriptor_is_deterministic_and_separates_people_more_than_mirrors() -> None:
    prep = FacePrep(size=150, method="dlib")
    model = descriptor_model()
    chips = {n: prep.load(SAMPLES / n).image for n in SAMPLE_LANDMARKS}
    vec = {n: np.asarray(model.compute_face_descriptor(c)) for n, c in chips.items()}
    again = np.asarray(model.compute_face_descriptor(prep.load(SAMPLES / "000001.jpg").image))
    assert vec["000001.jpg"].shape == (128,)
    assert np.array_equal(again, vec["000001.jpg"])
    mirror = np.asarray(model.compute_face_descriptor(np.ascontiguousarray(
        chips["000001.jpg"][:, ::-1])))  # fmt: skip
    different = np.linalg.norm(vec["000001.jpg"] - vec["000002.jpg"])
    assert np.linalg.norm(vec["000001.jpg"] - mirror) < different


def test_no_face_is_an_error_and_several_faces_say_the_largest_was_used(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    with pytest.raises(NoFaceError, match="no face found"):
        FacePrep.for_template("arcface", 112).load(blank)
    big, small = _sample("000001.jpg"), _sample("000002.jpg")
    pair = np.zeros((218, 356, 3), np.uint8)
    pair[:, :178], pair[:, 178:] = big, small
    two = tmp_path / "two.png"
    Image.fromarray(pair).save(two)
    prepared = FacePrep.for_template("arcface", 112).load(two)
    assert prepared.note == "2 faces found; the largest was used"


def test_crop_runs_keep_aligned_celeba_images_and_align_other_photos(tmp_path: Path) -> None:
    """A 178×218 file is an aligned CelebA image (cropped as in training, no detector); a photo
    of another size is detected and warped onto the run's recorded frame."""
    from celebalab.datasets.decode import load_resized

    frame = np.array(SAMPLE_LANDMARKS["000001.jpg"], np.float64).reshape(5, 2)
    prep = FacePrep(size=64, method="crop", frame=tuple(map(tuple, frame)))
    aligned = prep.load(SAMPLES / "000001.jpg").image
    assert np.array_equal(aligned, load_resized(SAMPLES / "000001.jpg", 64, "center"))
    photo = np.zeros((400, 500, 3), np.uint8)
    photo[100:318, 200:378] = _sample("000001.jpg")
    path = tmp_path / "holiday.png"
    Image.fromarray(photo).save(path)
    found = prep.load(path).image
    unaligned = prep.load(path, detect="never").image  # the photo's centre, as before alignment
    assert found.shape == (64, 64, 3)
    error = np.abs(found.astype(int) - aligned).mean()
    assert error < 0.3 * np.abs(unaligned.astype(int) - aligned).mean()  # measured 20 vs 117
    no_frame = FacePrep(size=64, method="crop")
    with pytest.raises(Exception, match="records no aligned-face frame"):
        no_frame.load(path)


def test_every_preparation_reports_the_matrix_it_applied(tmp_path: Path) -> None:
    """``Prepared.matrix`` is the source → input map: warping the source with it gives the input
    back (exactly for dlib's chip, up to resampling for the bicubic crops)."""
    from celebalab.alignment import warp_image

    source = _sample("000001.jpg")
    dlib_prep = FacePrep(size=150, method="dlib").prepare(source)
    assert np.abs(warp_image(source, dlib_prep.matrix, 150, 150).astype(int)
                  - dlib_prep.image).mean() < 0.5  # fmt: skip
    crop = FacePrep(size=64, method="crop").load(SAMPLES / "000001.jpg")
    assert np.abs(warp_image(source, crop.matrix, 64, 64).astype(int) - crop.image).mean() < 4
    frame = np.array(SAMPLE_LANDMARKS["000001.jpg"], np.float64).reshape(5, 2)
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[40:258, 100:278] = source
    framed = FacePrep(size=64, method="crop", frame=tuple(map(tuple, frame))).prepare(photo)
    assert np.abs(warp_image(photo, framed.matrix, 64, 64).astype(int)
                  - framed.image).mean() < 4  # fmt: skip
    template = FacePrep.for_template("arcface", 112).prepare(source, frame)
    assert np.allclose(template.matrix, _lstsq_similarity(frame, ARCFACE_112), atol=1e-9)

"""Rasterise a face: one 8-bit *code* image drawn at 2×, turned into the picture AND its labels.

Every drawn shape paints a code (e.g. ``iris_l``, ``lens``, ``stubble``); each code has a colour
(per image) and a mask class (fixed). The RGB image is the code image through a palette, reduced
2× with a box filter (anti-aliased edges), then lit, noised and possibly blurred; the label map is
the same code image through a code→class table, reduced by nearest sampling. So every label is
exactly the class of what was drawn at that pixel, and masks are disjoint by construction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from celebalab.datasets.schema import MASK_CLASS_VALUES
from celebalab.datasets.synth._appearance import Face

SUPERSAMPLE = 2
_N_BANDS = 16
_WHITE = (236, 233, 228)
#: Colours of the shortcut cues, in the order of the shortcuts.
CUE_COLOURS = ((255, 0, 200), (0, 220, 255), (255, 225, 0), (0, 255, 90))
CUE_STRENGTH = 0.45

# (code name, mask class, colour base, brightness factor); the code value is the row number.
# fmt: off
_CODE_TABLE: tuple[tuple[str, str, str, float], ...] = (
    *((f"bg{k}", "background", f"bg{k}", 1.0) for k in range(_N_BANDS)),
    *((f"blob{k}", "background", f"blob{k}", 1.0) for k in range(3)),
    ("cloth", "cloth", "cloth", 1.0), ("cloth_shade", "cloth", "cloth", 0.72),
    ("shirt", "cloth", "white", 0.97), ("shirt_shade", "cloth", "white", 0.8),
    ("tie", "cloth", "tie", 1.0), ("tie_shade", "cloth", "tie", 0.7),
    ("neck", "neck", "skin", 0.9), ("neck_shade", "neck", "skin", 0.68),
    ("necklace", "neck_l", "metal", 1.0), ("pendant", "neck_l", "metal", 0.78),
    ("l_ear", "l_ear", "skin", 0.93), ("l_ear_in", "l_ear", "skin", 0.74),
    ("r_ear", "r_ear", "skin", 0.93), ("r_ear_in", "r_ear", "skin", 0.74),
    ("earring", "ear_r", "metal", 1.0), ("earring_shade", "ear_r", "metal", 0.7),
    ("skin_edge", "skin", "skin", 0.88), ("skin", "skin", "skin", 1.0),
    ("skin_hi", "skin", "skin", 1.07), ("skin_shade", "skin", "skin", 0.85),
    ("cheek_shade", "skin", "skin", 0.93),
    ("blush", "skin", "blush", 1.0), ("wrinkle", "skin", "skin", 0.78),
    ("bags", "skin", "bags", 1.0), ("stubble", "skin", "stubble", 1.0),
    ("beard", "skin", "beard", 1.0), ("eyeshadow", "skin", "eyeshadow", 1.0),
    ("chin_line", "skin", "skin", 0.76),
    ("nose", "nose", "skin", 0.98), ("nose_shade", "nose", "skin", 0.84),
    ("nose_hi", "nose", "skin", 1.1), ("nostril", "nose", "skin", 0.38),
    ("l_brow", "l_brow", "brow", 1.0), ("r_brow", "r_brow", "brow", 1.0),
    *((f"{part}_{side}", f"{side}_eye", base, f)
      for side in ("l", "r")
      for part, base, f in (("sclera", "white", 1.0), ("iris", "iris", 1.0),
                            ("pupil", "dark", 1.0), ("glint", "white", 1.1),
                            ("lash", "dark", 1.5))),
    ("mouth", "mouth", "mouth", 1.0), ("teeth", "mouth", "white", 0.96),
    ("u_lip", "u_lip", "lips", 1.0), ("l_lip", "l_lip", "lips", 1.06),
    ("l_lip_hi", "l_lip", "lips", 1.22),
    ("hair", "hair", "hair", 1.0), ("hair_dark", "hair", "hair", 0.7),
    ("hair_hi", "hair", "hair", 1.28),
    ("hat", "hat", "hat", 1.0), ("hat_band", "hat", "hat", 0.6), ("hat_shade", "hat", "hat", 0.8),
    ("lens", "eye_g", "lens", 1.0), ("lens_glare", "eye_g", "glare", 1.0),
    ("frame", "eye_g", "frame", 1.0),
)
# fmt: on
CODE: dict[str, int] = {name: i for i, (name, *_rest) in enumerate(_CODE_TABLE)}
_CODE_CLASS = np.array([MASK_CLASS_VALUES[c] for _n, c, _b, _f in _CODE_TABLE], dtype=np.uint8)
_CODE_SHADE = np.array([f for *_r, f in _CODE_TABLE])
_BASE_NAMES = tuple(dict.fromkeys(b for _n, _c, b, _f in _CODE_TABLE))
_CODE_BASE = np.array([_BASE_NAMES.index(b) for _n, _c, b, _f in _CODE_TABLE])
#: code value -> mask class value, as a 256-entry table for ``Image.point``.
CLASS_LUT: list[int] = [*_CODE_CLASS.tolist(), *([0] * (256 - len(_CODE_TABLE)))]


@dataclass(frozen=True)
class Canvas:
    """Where faces land in an output image: size, eye midpoint and eye distance, in pixels."""

    width: int
    height: int
    eye_x: float
    eye_y: float
    iod: float

    @classmethod
    def aligned(cls, width: int = 178, height: int = 218) -> Canvas:
        """CelebA's aligned crop: eyes near (89, 111) and 37 px apart at 178×218."""
        return cls(width, height, 0.5 * width, height * 111 / 218, width * 37 / 178)

    @classmethod
    def hq(cls, size: int) -> Canvas:
        """CelebA-HQ's square crop: eyes at 46 % of the height, a fifth of the width apart."""
        return cls(size, size, 0.5 * size, 0.46 * size, 0.2 * size)


class Sketch:
    """Shapes in face units, in painting order, transformed together in one numpy pass."""

    def __init__(self) -> None:
        self.items: list[
            tuple[int, int, int, float]
        ] = []  # code, start, stop, line width (0 = fill)
        self._pts: list[np.ndarray] = []
        self._counts: list[int] = []
        self._extra: list[float] = []  # per shape; per-point arrays go to _overrides
        self._head: list[float] = []
        self._overrides: list[tuple[str, int, np.ndarray]] = []
        self._size = 0
        self.slices: dict[str, slice] = {}  # named point sets (landmarks, face outline)

    def add(
        self,
        code: str | None,
        pts: np.ndarray,
        extra: float | np.ndarray = 0.0,
        head: float | np.ndarray = 1.0,
        width: float = 0.0,
        name: str | None = None,
    ) -> None:
        """Add a polygon (``width`` 0) or polyline of ``width`` face units (``code`` None: points
        only). ``extra``: depth above the head surface; ``head``: 1 follows the head pose, 0 the
        body; ``name`` keeps the points' slice in :attr:`slices`."""
        k = len(pts)
        if name is not None:
            self.slices[name] = slice(self._size, self._size + k)
        self._pts.append(pts)
        self._counts.append(k)
        for kind, value, per_shape in (("extra", extra, self._extra), ("head", head, self._head)):
            if isinstance(value, np.ndarray):
                self._overrides.append((kind, self._size, value))
                per_shape.append(0.0)
            else:
                per_shape.append(value)
        if code is not None:
            self.items.append((CODE[code], self._size, self._size + k, width))
        self._size += k

    def _per_point(self) -> tuple[np.ndarray, np.ndarray]:
        values = {
            "extra": np.repeat(self._extra, self._counts),
            "head": np.repeat(self._head, self._counts),
        }
        for kind, start, arr in self._overrides:
            values[kind][start : start + len(arr)] = arr
        return values["extra"], values["head"]

    def project(self, face: Face, canvas: Canvas, scale: float) -> np.ndarray:
        """All points in pixel coordinates of a canvas drawn at ``scale`` × its size."""
        p = np.concatenate(self._pts)
        x, y = p[:, 0], p[:, 1]
        extra, h = self._per_point()
        zs = 0.62 * np.sqrt(
            np.clip(1 - 0.85 * (x / face.face_w) ** 2 - ((y - 0.15) / 1.9) ** 2, 0, 1)
        )
        z = zs + extra
        yaw, pitch, roll = np.radians([face.yaw, face.pitch, face.roll])
        x1 = x * np.cos(yaw) + z * np.sin(yaw)
        z1 = z * np.cos(yaw) - x * np.sin(yaw)
        y1 = y * np.cos(pitch) - z1 * np.sin(pitch)
        xr = x1 * np.cos(roll) - y1 * np.sin(roll)
        yr = x1 * np.sin(roll) + y1 * np.cos(roll)
        px = h * xr + (1 - h) * x + face.shift_x
        py = h * yr + (1 - h) * y + face.shift_y
        s = canvas.iod * face.scale * scale
        return np.stack([canvas.eye_x * scale + s * px, canvas.eye_y * scale + s * py], axis=1)


@dataclass
class Rendered:
    """One rendered face: picture, label map, 5 landmarks (x, y) and face box (x, y, w, h)."""

    image: Image.Image
    labels: Image.Image
    landmarks: np.ndarray
    bbox: np.ndarray


def palette(face: Face) -> np.ndarray:
    """(n_codes, 3) uint8 colours of this face's codes, shortcut tints applied."""
    bg = [
        np.asarray(face.bg_top) * (1 - t) + np.asarray(face.bg_bottom) * t
        for t in np.linspace(0, 1, _N_BANDS)
    ]
    mid = 0.5 * (np.asarray(face.bg_top) + np.asarray(face.bg_bottom))
    skin = np.asarray(face.skin)
    lens = (
        np.array([28.0, 30, 36])
        if face.glasses == "sun"
        else 0.65 * skin + 0.35 * np.asarray(face.lens)
    )
    bases = {
        **{f"bg{k}": c for k, c in enumerate(bg)},
        **{f"blob{k}": mid + d for k, d in enumerate((28.0, -28.0, 14.0))},
        "cloth": face.cloth,
        "white": _WHITE,
        "tie": face.tie,
        "skin": skin,
        "metal": face.metal,
        "blush": face.blush,
        "bags": 0.72 * skin + 0.28 * np.array([95.0, 60, 95]),
        "stubble": 0.6 * skin + 0.4 * np.asarray(face.beard),
        "beard": face.beard,
        "eyeshadow": 0.45 * skin + 0.55 * np.asarray(face.eyeshadow),
        "brow": face.brow,
        "iris": face.iris,
        "dark": (16, 12, 12),
        "mouth": (88, 24, 30),
        "lips": face.lips,
        "hair": face.hair,
        "hat": face.hat_colour,
        "lens": lens,
        "glare": 0.5 * lens + 127,
        "frame": face.frame,
    }
    base = np.array([bases[name] for name in _BASE_NAMES], dtype=np.float64)
    colours = base[_CODE_BASE] * _CODE_SHADE[:, None]
    for cue, classes in face.cue_tints:
        tinted = np.isin(_CODE_CLASS, [MASK_CLASS_VALUES[c] for c in classes])
        cue_rgb = np.asarray(CUE_COLOURS[cue % len(CUE_COLOURS)], dtype=np.float64)
        colours[tinted] = (1 - CUE_STRENGTH) * colours[tinted] + CUE_STRENGTH * cue_rgb
    return np.clip(colours, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _light_tiles(width: int, height: int) -> tuple[Image.Image, ...]:
    """Eight soft lighting fields (one per light direction) with a vignette, as RGB multipliers."""
    y, x = np.mgrid[0:height, 0:width]
    u, v = (x + 0.5) / width - 0.5, (y + 0.5) / height - 0.5
    tiles = []
    for k in range(8):
        a = np.radians(45 * k)
        field = 0.9 + 0.2 * (np.cos(a) * u + np.sin(a) * v) - 0.35 * (u * u + v * v)
        rgb = np.clip(np.stack([field, field * 0.99, field * 0.97], axis=-1), 0, 1)
        tiles.append(Image.fromarray((255 * rgb).astype(np.uint8)))
    return tuple(tiles)


@functools.lru_cache(maxsize=8)
def _noise_tiles(width: int, height: int) -> tuple[Image.Image, ...]:
    """Sensor-like noise around 128 (three strengths), 32 px larger than the image for offsets."""
    rng = np.random.default_rng(20240607)
    shape = (height + 32, width + 32)
    tiles = []
    for sigma in (2.0, 3.5, 5.0):
        luma = rng.normal(0, sigma, shape)[..., None]
        chroma = rng.normal(0, 0.35 * sigma, (*shape, 3))
        tiles.append(Image.fromarray(np.clip(128 + luma + chroma, 0, 255).astype(np.uint8)))
    return tuple(tiles)


@functools.lru_cache(maxsize=32)
def _bands(width: int, height: int, angle_index: int) -> Image.Image:
    """Background codes: ``_N_BANDS`` gradient bands along one of four directions."""
    angle = np.radians((90, 0, 60, 120)[angle_index])
    y, x = np.mgrid[0:height, 0:width]
    t = np.cos(angle) * (x / width - 0.5) + np.sin(angle) * (y / height - 0.5)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    return Image.fromarray(np.minimum(t * _N_BANDS, _N_BANDS - 1).astype(np.uint8) + CODE["bg0"])


def _background(face: Face, width: int, height: int) -> Image.Image:
    """The code image to draw on: gradient bands plus a few soft blobs, in pixel coordinates."""
    codes = _bands(width, height, face.background_angle).copy()
    draw = ImageDraw.Draw(codes)
    for k, (bx, by, br) in enumerate(face.blobs):
        r = br * width
        box = [bx * width - r, by * height - r, bx * width + r, by * height + r]
        draw.ellipse(box, fill=CODE[f"blob{k % 3}"])
    return codes


def render(
    face: Face, canvas: Canvas, sketch: Sketch, label_size: tuple[int, int] | None = None
) -> Rendered:
    """Draw ``sketch`` (built by :func:`geometry.sketch_face`) of ``face`` on ``canvas``."""
    ss = SUPERSAMPLE
    big = (canvas.width * ss, canvas.height * ss)
    codes = _background(face, *big)
    draw = ImageDraw.Draw(codes)
    pts = sketch.project(face, canvas, ss)
    px_per_unit = canvas.iod * face.scale * ss
    for code, start, stop, width in sketch.items:
        flat = pts[start:stop].ravel().tolist()
        if width:
            draw.line(flat, fill=code, width=max(1, round(width * px_per_unit)), joint="curve")
        else:
            draw.polygon(flat, fill=code)
    pal = palette(face)
    coloured = Image.frombuffer("P", big, codes.tobytes(), "raw", "P", 0, 1)
    coloured.putpalette(pal.tobytes())
    image = coloured.convert("RGB").reduce(ss)
    image = ImageChops.multiply(image, _light_tiles(canvas.width, canvas.height)[face.light_dir])
    noise = _noise_tiles(canvas.width, canvas.height)[face.noise_level]
    noise = noise.crop(
        (face.noise_dx, face.noise_dy, face.noise_dx + canvas.width, face.noise_dy + canvas.height)
    )
    image = ImageChops.add(image, noise, 1.0, -128)
    if face.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(face.blur * canvas.iod * face.scale))
    labels = codes.point(CLASS_LUT).resize(
        label_size or (canvas.width, canvas.height), Image.NEAREST
    )
    marks = pts[sketch.slices["landmarks"]] / ss
    outline = pts[sketch.slices["outline"]] / ss
    lo, hi = outline.min(axis=0), outline.max(axis=0)
    return Rendered(image, labels, marks, np.concatenate([lo, hi - lo]))

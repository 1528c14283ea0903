"""Per-image drawing parameters: the identity's stable look plus this photo's variation.

Geometry is in *face units*: origin at the midpoint of the eyes, x to the image right, y down,
1 unit = the distance between the eye centres. Colours are RGB floats 0..255.
Identity traits come from a generator seeded by (seed, identity row), per-image variation from one
seeded by (seed, image index), so a face is the same whichever worker draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from celebalab.datasets.schema import ATTRIBUTE_NAMES

_STREAM_IDENTITY, _STREAM_IMAGE = 1, 2

HAIR_COLOURS = {  # name -> (mean RGB, per-identity jitter)
    "black": ((28, 22, 20), 8),
    "blond": ((222, 188, 118), 18),
    "brown": ((104, 66, 38), 16),
    "gray": ((186, 184, 182), 22),
    "auburn": ((128, 48, 26), 14),
    "copper": ((176, 86, 40), 14),
    "burgundy": ((112, 32, 56), 12),
}
_OTHER_HAIR = ("auburn", "copper", "burgundy")
_LIPSTICK = ((190, 30, 45), (215, 70, 110), (120, 30, 60), (230, 95, 80))
_EYESHADOW = ((120, 80, 140), (90, 110, 160), (150, 100, 70), (70, 60, 60))
_IRIS = ((90, 55, 30), (60, 40, 25), (70, 110, 150), (80, 120, 70), (120, 95, 50))
_METAL = ((212, 175, 80), (200, 200, 205), (230, 200, 170))
_SKIN_LIGHT, _SKIN_DARK = np.array([242, 205, 180.0]), np.array([110, 70, 50.0])
_PALE = np.array([248, 228, 218.0])


@dataclass
class Face:
    """All parameters needed to draw one face (see module docstring for units)."""

    # pose (degrees) and placement jitter
    yaw: float
    pitch: float
    roll: float
    shift_x: float  # in face units
    shift_y: float
    scale: float  # multiplies the canvas' eye distance
    # identity shape
    face_w: float
    face_top: float
    chin_y: float
    jaw_power: float
    neck_w: float
    eye_w: float
    eye_up: float
    eye_low: float
    brow_y: float
    brow_thick: float
    brow_arch: float
    brow_peak: float
    nose_len: float
    nose_w: float
    nose_point: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_low: float
    # hair
    hair_style: str  # "straight", "wavy" or "plain"
    hair_long: bool
    hair_volume: float
    hairline_y: float
    hair_part: float
    # expression of this image
    smile: float
    mouth_gap: float
    teeth: bool
    gaze: float
    # accessories and makeup of this image
    glasses: str  # "", "clear", "sun"
    hat: str  # "", "beanie", "brim"
    earring: str  # "", "stud", "hoop", "drop"
    necklace: bool
    necktie: bool
    neckline: str  # "round" or "v"
    # global effects
    light_dir: int
    blur: float  # Gaussian radius in face units (0 = sharp)
    noise_level: int
    noise_dx: int
    noise_dy: int
    jpeg_quality: int
    background_angle: int
    blobs: list
    # colours
    skin: tuple
    hair: tuple
    brow: tuple
    beard: tuple
    lips: tuple
    iris: tuple
    eyeshadow: tuple
    blush: tuple
    cloth: tuple
    tie: tuple
    hat_colour: tuple
    metal: tuple
    lens: tuple
    frame: tuple
    bg_top: tuple
    bg_bottom: tuple
    hair_name: str
    attrs: dict
    cue_tints: tuple  # (shortcut number, mask classes) of each cue drawn on this image

    def record(self) -> dict:
        """Flat, Parquet-friendly render parameters (colours as '#rrggbb')."""
        out = {}
        for item in fields(self):
            key, value = item.name, getattr(self, item.name)
            if key in ("attrs", "cue_tints", "blobs"):
                continue
            if isinstance(value, tuple):
                value = "#" + "".join(f"{round(c):02x}" for c in value)
            out[key] = value
        return out


def _mix(a, b, t: float) -> tuple:
    return tuple(float(x) for x in (np.asarray(a, float) * (1 - t) + np.asarray(b, float) * t))


def _jitter(rng: np.random.Generator, rgb, amount: float) -> tuple:
    return tuple(
        float(v) for v in np.clip(np.asarray(rgb, float) + rng.normal(0, amount, 3), 0, 255)
    )


def face_parameters(
    seed: int, index: int, ident_row: int, attrs: np.ndarray, cue_tints: tuple = ()
) -> Face:
    """Draw the parameters of image ``index`` (0-based) of identity row ``ident_row``."""
    a = {name: bool(v) for name, v in zip(ATTRIBUTE_NAMES, attrs, strict=True)}
    idr = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_IDENTITY, ident_row]))
    rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM_IMAGE, index]))
    male = a["Male"]
    u = idr.uniform

    # --- identity: shape
    face_w = u(1.04, 1.12) + 0.04 * male + 0.14 * a["Chubby"]
    chin_y = u(1.8, 1.9) + 0.06 * male - 0.04 * a["Chubby"]
    if a["Oval_Face"]:
        jaw = u(1.7, 2.0)
    elif a["Chubby"]:
        jaw = u(2.4, 2.8)
    else:
        jaw = u(2.3, 2.6) + 0.6 * male
    tone = idr.beta(2.0, 3.0)
    skin = _PALE if a["Pale_Skin"] else _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone
    skin = _jitter(idr, skin, 6)
    if a["Bald"]:
        hair_name = "brown"
    elif a["Gray_Hair"]:
        hair_name = "gray"
    elif a["Black_Hair"]:
        hair_name = "black"
    elif a["Blond_Hair"]:
        hair_name = "blond"
    elif a["Brown_Hair"]:
        hair_name = "brown"
    else:
        hair_name = _OTHER_HAIR[idr.integers(len(_OTHER_HAIR))]
    mean, spread = HAIR_COLOURS[hair_name]
    hair = _jitter(idr, mean, spread)
    brow_base = hair if hair_name in ("black", "brown", "gray") else _mix(hair, (60, 40, 30), 0.5)
    style = "wavy" if a["Wavy_Hair"] else "straight" if a["Straight_Hair"] else "plain"
    long_hair = bool(idr.random() < (0.08 if male else 0.88)) or (style == "wavy" and not male)
    iris = _IRIS[idr.integers(len(_IRIS))]
    ident = {
        "face_w": face_w,
        "face_top": u(-1.52, -1.42),
        "chin_y": chin_y,
        "jaw_power": jaw,
        "neck_w": u(0.5, 0.58) + 0.06 * male + 0.12 * a["Chubby"],
        "eye_w": u(0.18, 0.21),
        "brow_y": u(-0.36, -0.3),
        "nose_len": u(0.6, 0.65) + 0.06 * a["Big_Nose"],
        "nose_w": (u(0.26, 0.29) if a["Big_Nose"] else u(0.19, 0.22)) - 0.03 * a["Pointy_Nose"],
        "nose_point": 0.12 if a["Pointy_Nose"] else 0.04,
        "mouth_y": u(1.08, 1.16),
        "hair_volume": u(0.2, 0.34),
        "hairline_y": (u(-1.32, -1.22) if a["Receding_Hairline"] else u(-1.05, -0.92)),
        "hair_part": float(idr.choice([-0.35, 0.0, 0.3])),
    }
    brow_thick = u(0.085, 0.1) if a["Bushy_Eyebrows"] else u(0.04, 0.05) + 0.015 * male

    # --- image: expression, accessories, effects
    smile = rng.uniform(0.6, 1.0) if a["Smiling"] else 0.0
    gap = (rng.uniform(0.05, 0.08) + 0.05 * (smile > 0)) if a["Mouth_Slightly_Open"] else 0.0
    narrow = 0.5 if a["Narrow_Eyes"] else 1.0
    lips = (
        _LIPSTICK[rng.integers(len(_LIPSTICK))]
        if a["Wearing_Lipstick"]
        else _mix(skin, (175, 85, 85), 0.45)
    )
    cloth = _jitter(
        rng,
        rng.choice(
            [
                (40, 50, 80),
                (30, 30, 34),
                (150, 30, 40),
                (200, 200, 195),
                (70, 110, 80),
                (110, 90, 140),
                (160, 120, 80),
            ]
        ),
        14,
    )
    bg_top = tuple(float(v) for v in rng.uniform(20, 235, 3))
    bg_bottom = _jitter(rng, _mix(bg_top, rng.uniform(20, 235, 3), 0.6), 10)
    blobs = [
        tuple(float(v) for v in rng.uniform([0, 0, 0.05], [1, 0.8, 0.22]))
        for _ in range(int(rng.integers(0, 5)))
    ]
    return Face(
        yaw=float(np.clip(rng.normal(0, 8), -20, 20)),
        pitch=float(np.clip(rng.normal(0, 5), -12, 12)),
        roll=float(np.clip(rng.normal(0, 2.5), -8, 8)),
        shift_x=float(rng.normal(0, 0.04)),
        shift_y=float(rng.normal(0, 0.04)),
        scale=float(rng.uniform(0.95, 1.05)),
        eye_up=ident["eye_w"] * 0.45 * narrow * (0.85 if smile else 1.0),
        eye_low=ident["eye_w"] * 0.28 * narrow,
        brow_thick=brow_thick,
        brow_arch=(u(0.09, 0.11) if a["Arched_Eyebrows"] else u(0.02, 0.04)),
        brow_peak=(0.62 if a["Arched_Eyebrows"] else 0.5),
        mouth_w=u(0.34, 0.38) + 0.05 * a["Big_Lips"] + 0.04 * (smile > 0),
        lip_up=(u(0.09, 0.1) if a["Big_Lips"] else u(0.055, 0.065)),
        lip_low=(u(0.12, 0.135) if a["Big_Lips"] else u(0.075, 0.085)),
        hair_style=style,
        hair_long=long_hair,
        smile=float(smile),
        mouth_gap=float(gap),
        teeth=bool(gap > 0 and (smile > 0 or rng.random() < 0.3)),
        gaze=float(rng.normal(0, 0.015)),
        glasses=("" if not a["Eyeglasses"] else "sun" if rng.random() < 0.15 else "clear"),
        hat=("" if not a["Wearing_Hat"] else "beanie" if rng.random() < 0.5 else "brim"),
        earring=("" if not a["Wearing_Earrings"] else str(rng.choice(["stud", "hoop", "drop"]))),
        necklace=a["Wearing_Necklace"],
        necktie=a["Wearing_Necktie"],
        neckline=str(rng.choice(["round", "v"])),
        light_dir=int(rng.integers(8)),
        blur=float(rng.uniform(0.045, 0.07)) if a["Blurry"] else 0.0,
        noise_level=int(rng.integers(3)),
        noise_dx=int(rng.integers(32)),
        noise_dy=int(rng.integers(32)),
        jpeg_quality=int(rng.integers(86, 95)),
        background_angle=int(rng.integers(4)),
        blobs=blobs,
        skin=skin,
        hair=hair,
        brow=_jitter(idr, brow_base, 6),
        beard=_mix(hair if not a["Bald"] else (70, 50, 40), (20, 15, 12), 0.35),
        lips=_jitter(rng, lips, 6),
        iris=_jitter(idr, iris, 8),
        eyeshadow=_EYESHADOW[rng.integers(len(_EYESHADOW))],
        blush=_mix(skin, (220, 60, 70), 0.4),
        cloth=cloth,
        tie=_jitter(
            rng, rng.choice([(150, 20, 30), (20, 40, 110), (60, 60, 60), (120, 90, 20)]), 10
        ),
        hat_colour=_jitter(
            rng,
            rng.choice([(30, 30, 40), (160, 30, 30), (200, 180, 140), (60, 90, 140), (90, 70, 50)]),
            12,
        ),
        metal=_METAL[rng.integers(len(_METAL))],
        lens=_jitter(rng, (120, 150, 170), 15),
        frame=_jitter(rng, rng.choice([(20, 20, 22), (120, 70, 30), (170, 170, 175)]), 8),
        bg_top=bg_top,
        bg_bottom=bg_bottom,
        hair_name=hair_name,
        attrs=a,
        cue_tints=tuple(cue_tints),
        **ident,
    )

"""Face shapes in face units (see :mod:`appearance`), added to a :class:`Sketch` in painting order.

Later shapes cover earlier ones, so the order below *is* the visibility rule: e.g. hair (bangs)
over skin and brows, the hat over hair, eyes over the glasses' lenses (the eyes stay visible
through clear lenses), the frame over everything around the eyes. Person's left (``l_*``) is at
positive x (image right), as in CelebAMask-HQ.
"""

from __future__ import annotations

import functools

import numpy as np

from celebalab.datasets.synth._appearance import Face
from celebalab.datasets.synth._render import Sketch

SIDES = ((1.0, "l"), (-1.0, "r"))  # (x sign, class prefix): person's left is image right


@functools.lru_cache(maxsize=64)
def _unit(n: int, closed: bool = False) -> np.ndarray:
    """``n`` values from 0 to 1 (inclusive, or stopping one step short when ``closed``)."""
    return np.linspace(0.0, 1.0, n, endpoint=not closed)


@functools.lru_cache(maxsize=32)
def _circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = 2 * np.pi * _unit(n, closed=True)
    return np.cos(t), np.sin(t)


def span(a: float, b: float, n: int) -> np.ndarray:
    """``np.linspace(a, b, n)`` without its per-call overhead (called thousands of times)."""
    return a + (b - a) * _unit(n)


def ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 20, rot: float = 0.0
) -> np.ndarray:
    """``n`` points of an ellipse rotated by ``rot`` degrees."""
    cos, sin = _circle(n)
    x, y = rx * cos, ry * sin
    if rot:
        c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
        x, y = c * x - s * y, s * x + c * y
    return _xy(cx + x, cy + y)


def _xy(x, y) -> np.ndarray:
    """(k, 2) points from x and y values (either may be a scalar)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = np.empty((max(x.size, y.size), 2))
    out[:, 0], out[:, 1] = x, y
    return out


def _band(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Polygon between two polylines running the same way."""
    return np.concatenate([top, bottom[::-1]])


def outline(f: Face, n_top: int = 16, n_low: int = 14) -> np.ndarray:
    """Face contour: elliptic skull over a super-elliptic jaw (power ``jaw_power``)."""
    w, y0 = f.face_w, 0.22
    th = span(np.pi, 0, n_top)
    upper = _xy(w * np.cos(th), y0 - (y0 - f.face_top) * np.sin(th))
    s = span(0, 1, n_low)[1:]
    hw = w * (1 - s**f.jaw_power) ** (1 / f.jaw_power)
    ys = y0 + s * (f.chin_y - y0)
    return np.concatenate([upper, _xy(hw, ys), _xy(-hw[-2::-1], ys[-2::-1])])


def sketch_face(f: Face) -> Sketch:
    """All shapes of face ``f`` in painting order, with the 5 landmarks and the face outline."""
    sk = Sketch()
    a = f.attrs
    _body(sk, f)
    if not a["Bald"]:
        _hair_back(sk, f)
    _neck(sk, f)
    for sgn, side in SIDES:
        sk.add(f"{side}_ear", ellipse(sgn * (f.face_w - 0.02), 0.36, 0.15, 0.3, 16), extra=-0.45)
        sk.add(f"{side}_ear_in", ellipse(sgn * (f.face_w + 0.01), 0.38, 0.06, 0.17, 12), extra=-0.4)
    _skin(sk, f)
    _nose(sk, f)
    _mouth(sk, f)
    for sgn, side in SIDES:
        _brow(sk, f, sgn, side)
    if f.glasses:
        _lenses(sk, f)
    if f.glasses != "sun":
        for sgn, side in SIDES:
            _eye(sk, f, sgn, side)
    if f.glasses:
        _frames(sk, f)
    if not a["Bald"]:
        _hair_front(sk, f)
    if a["Sideburns"]:
        for sgn, _side in SIDES:
            w = f.face_w
            strip = _xy(
                sgn * np.array([w + 0.02, w - 0.16, w - 0.12, w + 0.01]), [-0.15, -0.15, 0.68, 0.68]
            )
            sk.add("hair", strip, extra=0.05)
    if f.hat:
        _hat(sk, f)
    if f.earring:
        _earrings(sk, f)
    marks = _xy(
        [-0.5, 0.5, 0.0, -f.mouth_w, f.mouth_w],
        [0.0, 0.0, f.nose_len, f.mouth_y - 0.06 * f.smile, f.mouth_y - 0.06 * f.smile],
    )
    sk.add(None, marks, extra=np.array([0.1, 0.1, 0.5, 0.08, 0.08]), name="landmarks")
    return sk


def _body(sk: Sketch, f: Face) -> None:
    """Shoulders with a round or V neckline, or a jacket, white shirt and tie."""
    nw, ys = f.neck_w, 2.15 + (f.chin_y - 1.7)
    left = _xy([-3.4, -3.4, -1.8, -(nw + 0.1)], [4.6, ys + 0.45, ys + 0.15, ys])
    if f.necktie:
        for sgn in (1.0, -1.0):
            lapel = np.concatenate([left * [sgn, 1], _xy([sgn * -0.4], [4.6])])
            sk.add("cloth", lapel, head=0.0)
        sk.add("shirt", _xy([-(nw + 0.1), nw + 0.1, 0.42, -0.42], [ys, ys, 4.6, 4.6]), head=0.0)
        for sgn in (1.0, -1.0):
            collar = _xy(
                sgn * np.array([nw + 0.12, 0.02, nw - 0.05]), [ys - 0.04, ys + 0.32, ys + 0.38]
            )
            sk.add("shirt_shade", collar, head=0.0)
        sk.add(
            "tie",
            _xy([-0.1, 0.1, 0.07, -0.07], [ys + 0.1, ys + 0.1, ys + 0.27, ys + 0.27]),
            head=0.0,
        )
        blade = _xy(
            [-0.07, 0.07, 0.18, 0.0, -0.18], [ys + 0.27, ys + 0.27, ys + 1.5, ys + 1.7, ys + 1.5]
        )
        sk.add("tie_shade", blade, head=0.0)
        return
    dip = 0.3 if f.neckline == "round" else 0.6
    cut = _xy(
        [-(nw + 0.05), -0.5 * nw, 0.0, 0.5 * nw, nw + 0.05],
        [ys + 0.05, ys + 0.75 * dip, ys + dip, ys + 0.75 * dip, ys + 0.05],
    )
    right = left[::-1] * [-1, 1]
    sk.add("cloth", np.concatenate([left, cut, right]), head=0.0)
    sk.add("cloth_shade", _xy([-3.4, -1.9, -1.6, -3.4], [ys + 0.6, ys + 0.3, 4.6, 4.6]), head=0.0)


def _neck(sk: Sketch, f: Face) -> None:
    nw, ys = f.neck_w, 2.15 + (f.chin_y - 1.7)
    sk.add(
        "neck",
        _xy([-nw, nw, nw + 0.06, 0, -(nw + 0.06)], [0.8, 0.8, ys + 0.1, ys + 0.7, ys + 0.1]),
        extra=-0.3,
        head=np.array([1, 1, 0, 0, 0.0]),
    )
    sk.add(
        "neck_shade",
        _xy([-nw, nw, nw, 0, -nw], [0.9, 0.9, f.chin_y + 0.22, f.chin_y + 0.3, f.chin_y + 0.22]),
        extra=-0.3,
    )
    if f.attrs["Double_Chin"]:
        sk.add("skin_shade", ellipse(0, f.chin_y + 0.02, 0.42, 0.14, 16), extra=-0.1)
    if f.necklace:
        x = span(-0.9 * nw, 0.9 * nw, 11)
        y = ys - 0.25 + 0.24 * (1 - (x / (0.9 * nw)) ** 2)
        sk.add("necklace", _xy(x, y), head=0.3, width=0.03)
        sk.add("pendant", ellipse(0, ys + 0.03, 0.045, 0.06, 10), head=0.2)


def _hair_back(sk: Sketch, f: Face) -> None:
    """Hair behind the head: long (to the shoulders), medium (bob) or short (a rim)."""
    w, v = f.face_w, f.hair_volume
    wavy = f.hair_style == "wavy"
    length = 3.0 if f.hair_long else (1.35 if not f.attrs["Male"] else 0.55)
    th = span(np.pi, 0, 17)
    yc = 0.3
    top = _xy((w + v) * np.cos(th), yc - (yc - (f.face_top - v - 0.05)) * np.sin(th))
    ys = span(yc, length, 9)[1:]
    side = w + v + 0.25 * (ys - yc) / max(length - yc, 1e-6) * (length > 1)
    if wavy:
        side = side + 0.07 * np.sin(7 * ys)
    right, left = _xy(side, ys), _xy(-side[::-1], ys[::-1])
    sk.add("hair", np.concatenate([top, right, left]), extra=-0.2)
    if f.hair_style == "plain":  # neither straight nor wavy: flat hair without strands
        return
    shades = ("hair_dark", "hair_hi", "hair_dark")
    for k, frac in enumerate((0.3, 0.6, 0.85)):
        ys2 = span(-0.1, length - 0.15, 10)
        x = w + v * frac + (0.07 * np.sin(7 * ys2) if wavy else 0.0)
        for sgn in (1.0, -1.0):
            sk.add(shades[k], _xy(sgn * x, ys2), extra=-0.2, width=0.03)


def _skin(sk: Sketch, f: Face) -> None:
    """Face skin with edge shading and every skin-class detail (cheeks, beard, makeup, age)."""
    a = f.attrs
    contour = outline(f)
    sk.add("skin_edge", contour, name="outline")
    light = np.cos(np.radians(45 * f.light_dir))
    sk.add("skin", contour * 0.93 + [0.05 * light, 0.03])
    if a["Bald"]:
        sk.add("skin_hi", ellipse(0.2 * light, f.face_top + 0.35, 0.35, 0.15, 14))
    if not a["Young"]:
        for y in (-0.72, -0.86):
            x = span(-0.35, 0.35, 7)
            sk.add("wrinkle", _xy(x, y + 0.03 * (x / 0.35) ** 2), width=0.014)
    if a["High_Cheekbones"]:
        for sgn, _s in SIDES:
            sk.add("cheek_shade", ellipse(sgn * 0.68, 0.74, 0.26, 0.1, 14, -30 * sgn))
            sk.add("skin_hi", ellipse(sgn * 0.58, 0.38, 0.24, 0.09, 14, -15 * sgn))
    if a["Rosy_Cheeks"]:
        for sgn, _s in SIDES:
            sk.add("blush", ellipse(sgn * 0.57, 0.6, 0.19, 0.13, 16))
    if not a["Young"]:
        for sgn, _s in SIDES:
            fold = _xy(
                sgn * np.array([f.nose_w + 0.04, f.nose_w + 0.1, f.mouth_w + 0.08]),
                [f.nose_len + 0.02, f.mouth_y - 0.15, f.mouth_y + 0.14],
            )
            sk.add("wrinkle", fold, width=0.016)
    if a["5_o_Clock_Shadow"]:
        low = contour[contour[:, 1] > 0.7]
        n = f.nose_len
        top = _xy(
            [-0.95 * f.face_w, -0.45, -0.25, 0.25, 0.45, 0.95 * f.face_w],
            [0.7, 0.9, n + 0.12, n + 0.12, 0.9, 0.7],
        )
        sk.add("stubble", np.concatenate([low, top]))
    for sgn, _side in SIDES:
        cx = sgn * 0.5
        xs = span(-f.eye_w * 1.15, f.eye_w * 1.15, 9)
        q = np.clip(1 - (xs / (f.eye_w * 1.15)) ** 2, 0, 1)
        if a["Bags_Under_Eyes"]:
            sk.add(
                "bags",
                _band(
                    _xy(cx + xs, f.eye_low * q**0.8 + 0.005),
                    _xy(cx + xs, f.eye_low * q**0.8 + 0.02 + 0.07 * q**0.6),
                ),
            )
        if a["Heavy_Makeup"]:
            lid = -f.eye_up * q**0.7
            sk.add(
                "eyeshadow",
                _band(_xy(cx + xs, lid - 0.03 - 0.11 * q**0.5), _xy(cx + xs, lid + 0.01)),
            )


def _nose(sk: Sketch, f: Face) -> None:
    n, w, p = f.nose_len, f.nose_w, f.nose_point
    rx = np.array([0.07, 0.085, 0.12, 0.85 * w, w, 0.8 * w, 0.1])
    ry = np.array([-0.02, 0.25, n - 0.2, n - 0.06, n + 0.02, n + 0.08, n + 0.09])
    pts = np.concatenate([_xy(rx, ry), [[0.0, n + 0.06 + p]], _xy(-rx[::-1], ry[::-1])])
    extra = 0.08 + 0.35 * np.exp(-(((pts[:, 1] - n) / 0.18) ** 2))
    sk.add("nose", pts, extra=extra)
    s = -1.0 if np.cos(np.radians(45 * f.light_dir)) >= 0 else 1.0  # shade away from the light
    shade = _xy(
        s * np.array([0.06, 0.11, 0.85 * w, 0.6 * w, 0.07, 0.035]),
        [0.0, n - 0.2, n - 0.06, n - 0.03, n - 0.2, 0.02],
    )
    sk.add("nose_shade", shade, extra=0.15)
    sk.add("nose_hi", _xy([-0.02, 0.02, 0.03, -0.03], [0.12, 0.12, n - 0.04, n - 0.04]), extra=0.3)
    for sgn in (1.0, -1.0):
        sk.add("nostril", ellipse(sgn * 0.09, n + 0.05, 0.045, 0.02, 10, 20 * sgn), extra=0.3)


def _mouth(sk: Sketch, f: Face) -> None:
    """Lips (and the inner mouth when open), beard parts drawn first on the skin around them."""
    a = f.attrs
    mw, cy, s, g = f.mouth_w, f.mouth_y, f.smile, f.mouth_gap
    xs = span(-mw, mw, 13)
    q = 1 - (xs / mw) ** 2
    corner = cy - 0.06 * s
    line = corner + (cy + 0.015 * s - corner) * q
    inner_u, inner_l = line - 0.5 * g * q**0.7, line + 0.5 * g * q**0.7
    bow = 1 - 0.3 * np.exp(-((xs / 0.07) ** 2))
    top = inner_u - f.lip_up * q**0.5 * bow
    bottom = inner_l + f.lip_low * q**0.6
    if a["Mustache"]:
        xm = span(-mw - 0.07, mw + 0.07, 13)
        low = (
            np.interp(xm, xs, top) + 0.015 + 0.07 * np.clip(np.abs(xm) - mw + 0.05, 0, None) / 0.12
        )
        high = f.nose_len + 0.14 + 0.04 * (xm / mw) ** 2
        sk.add("beard", _band(_xy(xm, high), _xy(xm, low)), extra=0.1)
    if a["Goatee"]:
        xg = span(-0.28, 0.28, 9)
        upper = np.interp(xg, xs, bottom) + 0.015
        lower = f.chin_y - 0.02 - 0.12 * (xg / 0.28) ** 2
        sk.add("beard", _band(_xy(xg, upper), _xy(xg, lower)), extra=0.05)
        if a["Mustache"]:
            for sgn in (1.0, -1.0):
                sk.add(
                    "beard",
                    _xy(
                        sgn * np.array([mw - 0.02, mw + 0.08, 0.3, 0.2]),
                        [corner, corner + 0.05, upper[0] + 0.1, upper[0]],
                    ),
                    extra=0.05,
                )
    sk.add("u_lip", _band(_xy(xs, top), _xy(xs, inner_u + 0.004)), extra=0.1)
    sk.add("l_lip", _band(_xy(xs, inner_l - 0.004), _xy(xs, bottom)), extra=0.1)
    sk.add(
        "l_lip_hi",
        ellipse(0, 0.5 * (inner_l[6] + bottom[6]), 0.3 * mw, 0.25 * f.lip_low, 10),
        extra=0.1,
    )
    if g > 0:
        sk.add("mouth", _band(_xy(xs, inner_u), _xy(xs, inner_l)), extra=0.1)
        if f.teeth:
            k = slice(2, -2)
            sk.add(
                "teeth",
                _band(_xy(xs[k], inner_u[k]), _xy(xs[k], inner_u[k] + 0.55 * g * q[k] ** 0.5)),
                extra=0.1,
            )


def _brow(sk: Sketch, f: Face, sgn: float, side: str) -> None:
    t = span(0, 1, 9)
    peak = f.brow_peak
    bump = 1 - np.abs(t - peak) / max(peak, 1 - peak) if peak != 0.5 else np.sin(np.pi * t) ** 0.9
    x = sgn * (0.17 + 0.64 * t)
    y = f.brow_y + 0.05 * t - f.brow_arch * bump
    half = 0.5 * f.brow_thick * (1 - 0.5 * t)
    sk.add(f"{side}_brow", _band(_xy(x, y - half), _xy(x, y + half)), extra=0.08)


def _eye(sk: Sketch, f: Face, sgn: float, side: str) -> None:
    """Almond, iris and pupil clipped to the lids, a glint and the upper lash line."""
    cx, ew = sgn * 0.5, f.eye_w
    xs = span(-ew, ew, 11)

    def lids(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.clip(1 - (x / ew) ** 2, 0, 1)
        tilt = 0.02 * sgn * x / ew  # outer corners slightly up
        return -f.eye_up * q**0.7 - tilt, f.eye_low * q**0.8 - tilt

    upper, lower = lids(xs)
    sk.add(f"sclera_{side}", _band(_xy(cx + xs, upper), _xy(cx + xs, lower)), extra=0.05)
    for part, r, dx, dy in (
        ("iris", 0.39 * ew, 0, 0.005),
        ("pupil", 0.17 * ew, 0, 0.005),
        ("glint", 0.06 * ew, -0.03, -0.025),
    ):
        c = ellipse(f.gaze + dx, dy, r, r, 14)
        x = np.clip(c[:, 0], -ew, ew)
        lo, hi = lids(x)
        sk.add(f"{part}_{side}", _xy(cx + x, np.clip(c[:, 1], lo, hi)), extra=0.06)
    heavy = f.attrs["Heavy_Makeup"]
    lash = _xy(cx + xs, upper)
    if heavy:  # winged liner at the outer corner
        outer = lash[-1] if sgn > 0 else lash[0]
        wing = [[outer[0] + sgn * 0.07, outer[1] - 0.04]]
        lash = np.concatenate([lash, wing] if sgn > 0 else [wing, lash])
    sk.add(f"lash_{side}", lash, extra=0.06, width=0.04 if heavy else 0.02)


def _lens_shape(sgn: float) -> np.ndarray:
    t = 2 * np.pi * _unit(24, closed=True)
    c, s = np.cos(t), np.sin(t)
    e = 2 / 2.6
    return _xy(
        sgn * 0.5 + 0.29 * np.sign(c) * np.abs(c) ** e, 0.03 + 0.2 * np.sign(s) * np.abs(s) ** e
    )


def _lenses(sk: Sketch, f: Face) -> None:
    for sgn, _side in SIDES:
        sk.add("lens", _lens_shape(sgn), extra=0.2)
        sk.add(
            "lens_glare",
            _xy(sgn * 0.5 + np.array([0.1, 0.2, 0.22, 0.14]), [0.18, 0.05, 0.09, 0.19]),
            extra=0.2,
        )


def _frames(sk: Sketch, f: Face) -> None:
    for sgn, _side in SIDES:
        ring = _lens_shape(sgn)
        sk.add("frame", np.concatenate([ring, ring[:1]]), extra=0.2, width=0.035)
        sk.add(
            "frame",
            _xy(sgn * np.array([0.79, f.face_w + 0.02]), [-0.03, 0.05]),
            extra=np.array([0.2, -0.2]),
            width=0.03,
        )
    sk.add("frame", _xy([-0.21, 0.0, 0.21], [-0.02, -0.06, -0.02]), extra=0.25, width=0.03)


def _hair_front(sk: Sketch, f: Face) -> None:
    """Hair over the skull down to the hairline (receding: high, bare temples), bangs, strands."""
    w, v, hl = f.face_w, f.hair_volume, f.hairline_y
    side_y = -0.05
    th = span(np.pi, 0, 17)
    outer = _xy((w + 0.5 * v) * np.cos(th), side_y - (side_y - (f.face_top - v)) * np.sin(th))
    if f.hair_style == "wavy":
        outer = outer * (1 + 0.035 * np.sin(9 * th))[:, None]
    u = span(-1, 1, 17)
    inner_y = hl + (side_y - hl) * np.abs(u) ** 3 + f.hair_part * 0.05 * u
    if f.attrs["Receding_Hairline"]:
        inner_y = inner_y - 0.35 * np.exp(-(((np.abs(u) - 0.6) / 0.2) ** 2))
    inner = _xy(u * w * 0.97, inner_y)
    sk.add("hair", np.concatenate([outer, inner[::-1]]), extra=0.12)
    for k, t in enumerate((0.25, 0.5, 0.75) if f.hair_style != "plain" else ()):
        curve = outer * (1 - t) + inner * t
        sk.add("hair_dark" if k != 1 else "hair_hi", curve[2:-2], extra=0.12, width=0.03)
    if f.attrs["Bangs"]:
        ub = span(-0.92, 0.92, 15)
        fringe_top = np.interp(ub, u, inner_y) - 0.05
        tips = f.brow_y - 0.03 + 0.06 * (np.arange(15) % 2) - 0.1 * ub**4
        sk.add("hair", _band(_xy(ub * w, fringe_top), _xy(ub * w, tips)), extra=0.15)
        for x0 in (-0.5, -0.15, 0.2, 0.55):
            sk.add(
                "hair_dark",
                _xy([x0 * w, (x0 + 0.05) * w], [hl + 0.1, f.brow_y - 0.08]),
                extra=0.15,
                width=0.018,
            )


def _hat(sk: Sketch, f: Face) -> None:
    w, v, top = f.face_w, f.hair_volume, f.face_top
    th = span(np.pi, 0, 17)
    if f.hat == "beanie":
        yb = -0.72
        dome = _xy((w + 0.14) * np.cos(th), yb - (yb - (top - v - 0.1)) * np.sin(th))
        sk.add("hat", dome, extra=0.15)
        sk.add(
            "hat_band",
            _xy([-(w + 0.14), w + 0.14, w + 0.12, -(w + 0.12)], [yb, yb, yb - 0.18, yb - 0.18]),
            extra=0.15,
        )
        return
    yb = -0.92
    crown = _xy(0.88 * w * np.cos(th), yb - (yb - (top - v - 0.35)) * np.sin(th))
    sk.add("hat", crown, extra=0.15)
    sk.add(
        "hat_band",
        _xy([-0.88 * w, 0.88 * w, 0.86 * w, -0.86 * w], [yb, yb, yb - 0.16, yb - 0.16]),
        extra=0.15,
    )
    sk.add("hat_shade", ellipse(0, yb + 0.02, w + 0.6, 0.13, 24), extra=0.1)


def _earrings(sk: Sketch, f: Face) -> None:
    for sgn, _side in SIDES:
        x = sgn * (f.face_w + 0.02)
        sk.add("earring", ellipse(x, 0.66, 0.04, 0.04, 8), extra=-0.3)
        if f.earring == "hoop":
            ring = ellipse(x, 0.76, 0.08, 0.09, 14)
            sk.add("earring", np.concatenate([ring, ring[:1]]), extra=-0.3, width=0.025)
        elif f.earring == "drop":
            sk.add("earring_shade", ellipse(x, 0.8, 0.035, 0.08, 10), extra=-0.3)

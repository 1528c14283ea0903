"""Ground truth for explainability: which mask classes CAUSE each attribute in synthetic faces.

``classes`` are CelebAMask-HQ class names (:data:`MASK_CLASS_NAMES`); the pixels whose drawing
changes when the attribute changes. ``kind`` is ``"drawn"`` (only those classes change),
``"mixed"`` (several drawn cues spread over several classes), ``"global"`` (a whole-image effect,
no class) or ``"sampled"`` (a label correlated with others but never drawn).

Conventions of the generator, as in CelebAMask-HQ: beards, moustaches, stubble, blush, eye shadow,
wrinkles and bags under the eyes are *skin* pixels; sideburns are *hair* pixels; ``l_*`` classes are
the person's left (image right), so CelebA's ``lefteye`` landmark lies in ``r_eye``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_EYES = ("l_eye", "r_eye")
_BROWS = ("l_brow", "r_brow")
_LIPS = ("u_lip", "l_lip")
_MOUTH = ("mouth", "u_lip", "l_lip")


def _r(classes: tuple[str, ...], kind: str, how: str) -> MappingProxyType:
    return MappingProxyType({"classes": list(classes), "kind": kind, "how": how})


#: attribute -> {"classes": [...], "kind": ..., "how": ...}, for all 40 attributes.
ATTRIBUTE_REGIONS: MappingProxyType[str, MappingProxyType] = MappingProxyType(
    {
        "5_o_Clock_Shadow": _r(("skin",), "drawn", "grey stubble over jaw, chin and upper lip"),
        "Arched_Eyebrows": _r(
            _BROWS, "drawn", "brow centre line peaks sharply at 2/3 of its length"
        ),
        "Attractive": _r((), "sampled", "label only; correlated with Young, female, makeup"),
        "Bags_Under_Eyes": _r(("skin",), "drawn", "dark crescents on the skin just below each eye"),
        "Bald": _r(("hair", "skin"), "drawn", "no scalp hair: skin up to the top of the head"),
        "Bangs": _r(("hair",), "drawn", "fringe of hair over the forehead down to the brows"),
        "Big_Lips": _r(_LIPS, "drawn", "both lips thicker and the mouth wider"),
        "Big_Nose": _r(("nose",), "drawn", "longer nose with wider wings"),
        "Black_Hair": _r(("hair",), "drawn", "hair colour near black"),
        "Blond_Hair": _r(("hair",), "drawn", "hair colour pale yellow"),
        "Blurry": _r((), "global", "Gaussian blur of the whole image"),
        "Brown_Hair": _r(("hair",), "drawn", "hair colour brown"),
        "Bushy_Eyebrows": _r(_BROWS, "drawn", "brows about twice as thick and darker"),
        "Chubby": _r(("skin", "neck"), "drawn", "wider, rounder face outline and wider neck"),
        "Double_Chin": _r(("skin",), "drawn", "rounder chin with a crease and shading under it"),
        "Eyeglasses": _r(
            ("eye_g",), "drawn", "frames, temples and tinted lenses (some sunglasses)"
        ),
        "Goatee": _r(("skin",), "drawn", "dense beard patch on the chin below the lower lip"),
        "Gray_Hair": _r(("hair",), "drawn", "hair colour grey/white"),
        "Heavy_Makeup": _r(
            ("l_eye", "r_eye", "skin", "u_lip", "l_lip"),
            "mixed",
            "thick eyeliner (eyes), coloured eye shadow on the lids (skin), lipstick (lips)",
        ),
        "High_Cheekbones": _r(("skin",), "drawn", "cheek highlight with a shadow below it"),
        "Male": _r(
            ("skin", "hair", "l_brow", "r_brow"),
            "mixed",
            "longer squarer jaw, short hair, thicker brows, facial hair (own labels)",
        ),
        "Mouth_Slightly_Open": _r(_MOUTH, "drawn", "gap between the lips shows the inner mouth"),
        "Mustache": _r(("skin",), "drawn", "dense hair patch on the skin above the upper lip"),
        "Narrow_Eyes": _r(_EYES, "drawn", "eye opening about half as tall"),
        "No_Beard": _r(
            ("skin", "hair"),
            "drawn",
            "absence of stubble, goatee, moustache (skin), sideburns (hair)",
        ),
        "Oval_Face": _r(("skin",), "drawn", "elliptic jaw line with a narrow rounded chin"),
        "Pale_Skin": _r(
            ("skin", "nose", "neck", "l_ear", "r_ear"),
            "drawn",
            "very light, low-saturation skin tone",
        ),
        "Pointy_Nose": _r(("nose",), "drawn", "narrow nose with a pointed tip below the wings"),
        "Receding_Hairline": _r(("hair", "skin"), "drawn", "hairline high with bare temples"),
        "Rosy_Cheeks": _r(("skin",), "drawn", "red blush ellipses on both cheeks"),
        "Sideburns": _r(("hair",), "drawn", "strips of hair in front of the ears down to the jaw"),
        "Smiling": _r(_MOUTH, "drawn", "mouth corners up, curved lips, teeth when open"),
        "Straight_Hair": _r(("hair",), "drawn", "straight strand lines (other hair is flat)"),
        "Wavy_Hair": _r(("hair",), "drawn", "wavy outline and wavy strands"),
        "Wearing_Earrings": _r(("ear_r",), "drawn", "studs, hoops or drops below the ear lobes"),
        "Wearing_Hat": _r(("hat",), "drawn", "beanie or brimmed hat over the top of the head"),
        "Wearing_Lipstick": _r(_LIPS, "drawn", "saturated red/pink/plum lip colour"),
        "Wearing_Necklace": _r(("neck_l",), "drawn", "metal chain across the neck with a pendant"),
        "Wearing_Necktie": _r(("cloth",), "drawn", "white shirt collar with a coloured tie"),
        "Young": _r(
            ("hair", "skin"), "mixed", "older faces: grey hair more often, wrinkles (skin)"
        ),
    }
)


def attribute_regions_json() -> dict[str, dict]:
    """:data:`ATTRIBUTE_REGIONS` as plain dicts (for ``synthetic_truth.json``)."""
    return {
        name: {k: (list(v) if k == "classes" else v) for k, v in entry.items()}
        for name, entry in ATTRIBUTE_REGIONS.items()
    }


def attribute_region_table() -> pd.DataFrame:
    """One row per attribute: ``attribute, kind, classes, how`` (for reports)."""
    import pandas as pd

    rows = [
        {"attribute": name, "kind": e["kind"], "classes": ", ".join(e["classes"]), "how": e["how"]}
        for name, e in ATTRIBUTE_REGIONS.items()
    ]
    return pd.DataFrame(rows, columns=["attribute", "kind", "classes", "how"])

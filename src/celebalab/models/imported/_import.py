"""``celebalab model import SOURCE --out RUN``: a pretrained model becomes a celebalab run.

The run folder holds a copy of the model file (``model.onnx``, ``model.ts``, ``model.pt2`` or
``model.pt``; nothing for ``dlib``, whose files live in its package) and ``run.json``, written
last, with ``kind: "imported"``: the task (``identity`` embedding or 40 attribute logits), the
source file and its SHA-256, the input size, normalisation, channel order and layout, the
alignment (:class:`celebalab.alignment.FacePrep`) and the licence note. Every command taking a
RUN then loads it through :func:`celebalab.models.load_run` like a trained run.

Before anything is written the model is run once on two deterministic images: its input must be
a 4-d image tensor matching the options, and its output finite, ``N×D`` (``D = 40`` for
attributes); each failure is one line naming the file.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from celebalab import __version__
from celebalab.alignment import DESCRIPTOR_FILE, LICENCE_NOTE, PREDICTOR_FILE, FacePrep, dlib_file
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError, OptionError
from celebalab.io import atomic_path, write_json_atomic
from celebalab.models.imported._formats import ModelFile, inspect_model_file
from celebalab.models.imported._load import build_imported_model
from celebalab.models.imported._options import (
    PRESETS,
    ImportOptions,
)
from celebalab.models.records import ImportedRun, ImportedSource, Normalisation
from celebalab.models.run import MODEL_RUN, RUN_JSON
from celebalab.rundir import RunKind, open_output, writing

MODEL_FILES = {
    "onnx": "model.onnx",
    "torchscript": "model.ts",
    "export": "model.pt2",
    "state_dict": "model.pt",
}
#: An imported run's folder: ``run.json`` and the model copy; evaluations of it are derived.
IMPORTED_RUN = RunKind(
    "imported model", manifest=RUN_JSON, outputs=tuple(MODEL_FILES.values()),
    derived=MODEL_RUN.derived,
)  # fmt: skip


def import_model(
    source: str,
    out: str | Path,
    options: ImportOptions | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the run folder ``out`` for ``source`` (``"dlib"`` or a model file); return ``out``.

    ``options`` default to ``ImportOptions()``. ``--overwrite`` replaces only what an import
    writes (``run.json``, the model copy, and evaluations of the earlier model), once the new
    import has been probed; other files stay.
    """
    options = options or ImportOptions()
    output = open_output(out, IMPORTED_RUN, overwrite=overwrite, stage=True)
    if source == "dlib":
        config = _dlib_config()
        model_file = None
    else:
        model_file = inspect_model_file(Path(source).expanduser())
        config = _file_config(model_file, options)
    with writing(output):
        if model_file is not None:
            _copy(model_file.path, output.path / str(config.source.file), model_file.format)
        width = _probe(output.path, config)
        if config.task == "attributes" and width != len(ATTRIBUTE_NAMES):
            raise CelebalabError(
                f"{source}: --kind attributes needs 40 outputs (CelebA's attributes), "
                f"the model gives {width}"
            )
        identity = config.task == "identity"
        config = replace(config, output_dim=width, embedding_dim=width if identity else None)
        write_json_atomic(output.path / RUN_JSON, config.to_json())
    return output.final


def _base_config(
    task: str,
    size: int,
    prep: FacePrep,
    mean: tuple,
    std: tuple,
    channels: str,
    source: ImportedSource,
    licence: str,
) -> ImportedRun:
    names = tuple(ATTRIBUTE_NAMES) if task == "attributes" else ()
    return ImportedRun(
        celebalab_version=__version__,
        arch=f"imported-{source.format}",
        task=task,
        attribute_names=names,
        image_size=size,
        crop=prep.crop if prep.method == "crop" else "none",
        alignment=prep.to_config(),
        normalisation=Normalisation(
            mean=tuple(m / 255 for m in mean), std=tuple(s / 255 for s in std)
        ),
        channels=channels,
        thresholds=dict.fromkeys(names, 0.5),
        threshold_metric="none (imported model: present when probability ≥ 0.5)",
        source=source,
        licence=licence,
    )


def _dlib_config() -> ImportedRun:
    files = {name: _sha256(dlib_file(name)) for name in (DESCRIPTOR_FILE, PREDICTOR_FILE)}
    source = ImportedSource(format="dlib", package="face-recognition-models", files=files)
    prep = FacePrep(size=150, method="dlib")
    # dlib's descriptor reads 0–255 pixels: the input stays on the 0–1 scale (mean 0, std 255)
    return _base_config(
        "identity", 150, prep, (0.0,) * 3, (255.0,) * 3, "rgb", source, LICENCE_NOTE
    )


def _file_config(model: ModelFile, o: ImportOptions) -> ImportedRun:
    preset = PRESETS[o.preset] if o.preset else None
    layout, fixed_batch, declared = _declared_input(model)
    size = o.input_size or (preset.input_size if preset else None) or declared
    if size is None:
        raise OptionError(
            f"{model.path}: the file does not fix its input size; pass --input-size or --preset"
        )
    if declared is not None and size != declared:
        raise OptionError(
            f"{model.path}: the model takes {declared}×{declared} images, not "
            f"{size}×{size} (--input-size / --preset)"
        )
    mean = _three(o.mean) or (preset.mean if preset else (0.0,) * 3)
    std = _three(o.std) or (preset.std if preset else (255.0,) * 3)
    alignment = o.alignment or (preset.alignment if preset else "crop-center")
    if alignment == "dlib":
        raise OptionError("--alignment dlib is dlib's own chip, for `model import dlib` only")
    prep = (
        FacePrep.for_template(alignment, size)
        if alignment == "arcface"
        else FacePrep(size=size, method="crop", crop=alignment.removeprefix("crop-"))
    )
    source = ImportedSource(
        format=model.format,
        file=MODEL_FILES[model.format],
        original=str(model.path.resolve()),
        sha256=_sha256(model.path),
        input_name=model.input_name,
        input_shape=tuple(model.shape or ()),
        layout=layout,
        fixed_batch=fixed_batch,
        arch=o.arch,
        preset=o.preset,
    )
    return _base_config(
        o.kind,
        size,
        prep,
        mean,
        std,
        o.channels or (preset.channels if preset else "rgb"),
        source,
        o.licence,
    )


def _declared_input(model: ModelFile) -> tuple[str, int | None, int | None]:
    """``(layout, fixed batch or None, square side or None)`` from the file's input shape."""
    shape = model.shape
    if shape is None:
        return "nchw", None, None
    if len(shape) != 4:
        raise CelebalabError(
            f"{model.path}: input has rank {len(shape)} "
            f"({_shape_text(shape)}); an image model takes N×3×H×W"
        )
    layout = "nhwc" if shape[3] == 3 and shape[1] != 3 else "nchw"
    height, width = (shape[1], shape[2]) if layout == "nhwc" else (shape[2], shape[3])
    channels = shape[3] if layout == "nhwc" else shape[1]
    if channels not in (3, None):
        raise CelebalabError(
            f"{model.path}: input {_shape_text(shape)} has {channels} channels, not 3"
        )
    if height is not None and width is not None and height != width:
        raise CelebalabError(f"{model.path}: input {_shape_text(shape)} is not square")
    return layout, shape[0], height if height is not None else width


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)


def _three(values: tuple[float, ...] | None) -> tuple[float, float, float] | None:
    if values is None:
        return None
    return tuple(values) * 3 if len(values) == 1 else tuple(values)  # type: ignore[return-value]


def _probe(out: Path, config: ImportedRun) -> int:
    """Run the imported model on two fixed images; return its output width."""
    from celebalab.models.architectures import normalise_uint8

    model = build_imported_model(out, config)
    size = config.image_size
    images = np.random.default_rng(0).integers(0, 256, (2, 3, size, size), dtype=np.uint8)
    norm = config.normalisation
    x = normalise_uint8(torch.from_numpy(images), norm.mean, norm.std)
    with torch.no_grad():
        try:
            y = model(x)
        except CelebalabError:
            raise
        except Exception as err:  # the model's own failure on a well-formed input
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise CelebalabError(
                f"{config.source.original or 'dlib'}: the model failed "
                f"on a {size}×{size} input ({first})"
            ) from None
    if y.ndim != 2 or y.shape[0] != 2:
        raise CelebalabError(
            f"{config.source.original}: output shape {tuple(y.shape)}; expected N×D"
        )
    return int(y.shape[1])


def _copy(source: Path, target: Path, fmt: str) -> None:
    """Copy the model file into the run; an ONNX model's external data files are inlined, so
    the run holds one file (ONNX's 2 GB protobuf limit applies)."""
    with atomic_path(target) as tmp:
        if fmt == "onnx":
            import onnx

            onnx.save_model(onnx.load_model(str(source), load_external_data=True), str(tmp))
        else:
            shutil.copyfile(source, tmp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

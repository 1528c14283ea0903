"""Explainability and regional validation: do attributions fall in the region a decision is about?

``run_explain(run, root, out)`` (CLI ``celebalab explain``) computes attribution maps of a trained
run (Captum, pytorch-grad-cam, baselines), scores them against face-parsing masks with
vectorised regional metrics (equal to Quantus), runs the falsification test and deletion/
insertion curves, and writes ``results.json``, ``per_image.parquet`` and ``report.html``.
The public names below load on first use (``celebalab --help`` must not import torch).

Imported runs (``celebalab model import``; :mod:`._imported`): perturbation methods, the
falsification rate and the curves only call the model forward, so ONNX and dlib models are
explained too; gradient methods are refused with one line each where gradients cannot reach the
input (ONNX, dlib), and Grad-CAM where no layer can be hooked (TorchScript, ``torch.export``).
Face-parsing masks follow the image's alignment: the label-map crop for crop runs, a
nearest-neighbour warp by the very landmark-to-template similarity for template (ArcFace) runs
on data with landmarks; for dlib chips, and templates fitted by dlib's detector, the transform is
not exposed, so regional metrics are refused with one line while FR and the curves run.
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "AttributeDecision": "celebalab.explain.decisions",
    "PairDecision": "celebalab.explain.decisions",
    "PenultimateFeatures": "celebalab.explain.decisions",
    "FalsificationSettings": "celebalab.explain.config",
    "falsify": "celebalab.explain.falsification",
    "METHOD_NAMES": "celebalab.explain.config",
    "AttributionSettings": "celebalab.explain.config",
    "attribute": "celebalab.explain.methods",
    "METRIC_NAMES": "celebalab.explain.metrics",
    "regional_metrics": "celebalab.explain.metrics",
    "DEFAULT_ATTRIBUTE_REGIONS": "celebalab.explain.regions",
    "ANALYSIS_REGION_GROUPS": "celebalab.explain.regions",
    "load_region_table": "celebalab.explain.regions",
    "ExplainConfig": "celebalab.explain.config",
    "ExplainResult": "celebalab.explain.summary",
    "run_explain": "celebalab.explain.runner",
}

__all__ = list(_LAZY)

# Deprecated names, kept for one release (using them warns): SEED_REGION_GROUPS (renamed; the
# regions module warns) and demo_explain (moved to celebalab.demo, above this package).
__getattr__ = lazy_exports(
    __name__,
    {**_LAZY, "SEED_REGION_GROUPS": "celebalab.explain.regions"},
    moved={"demo_explain": "celebalab.demo"},
)

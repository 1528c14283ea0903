"""``make demo``: the whole celebalab pipeline on synthetic faces, ending in one HTML report.

The pipeline (:func:`run_demo`, ``python -m celebalab.demo``) and its stages, each calling the
same public functions as the CLI: the explain stage (:func:`demo_explain`), the
face-recognition stage (identity model → embeddings → metrics → retrieval) and the GAN stage
(``_gan``: a short 32 px run and its evaluation).
This package sits above every other: nothing in the library imports it.
"""

from celebalab.demo._explain import demo_explain
from celebalab.demo._pipeline import DemoOptions, main, prepare_output, run_demo

__all__ = ["DemoOptions", "demo_explain", "main", "prepare_output", "run_demo"]

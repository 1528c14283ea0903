"""Shared metrics below every capability package (import the modules: ``metrics.recognition``).

``recognition``: face identification and verification figures, used by identity training
(validation) and by ``embed evaluate``.
``attributes``: per-attribute classification metrics with majority-class baselines, used by the
classifiers (``evaluate``, thresholds) and by the statistics (``stats`` predictability).
"""

"""Attribute classifiers: training (``celebalab train``), the run-directory format and its loader.

Import from the sub-modules (``celebalab.models.run.load_run``, ``…train.train``); this package
file holds only torch-free constants so that ``celebalab --help`` does not import torch.
"""

#: Architectures ``celebalab train --arch`` accepts (built in ``models.architectures``).
ARCHITECTURES: tuple[str, ...] = ("small_cnn", "mobilenet_v2", "resnet18", "resnet50")

"""celebalab: face-attribute research toolkit for CelebA and CelebAMask-HQ."""

__version__ = "0.1.0"

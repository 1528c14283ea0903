"""The embedding explorer web app (``celebalab explore``): CelebA-Vis, grown up.

Attributes, people, 2-D maps and clusterings of an embedding set in a Dash app; projections and
clusterings are cached on disk by data fingerprint, images are served by id only. Importing
this package stays light: Dash loads only when the app is built.
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "ExplorerSource": "celebalab.explorer.sources",
    "open_sources": "celebalab.explorer.sources",
    "Explorer": "celebalab.explorer.views",
    "build_app": "celebalab.explorer.app",
    "serve": "celebalab.explorer.serving",
    "bind": "celebalab.explorer.serving",
    "write_synthetic_set": "celebalab.explorer.synthetic",
}

__all__ = list(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY)

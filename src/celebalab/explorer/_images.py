"""Images for the browser: full images and cached thumbnails, by (source, row) only.

Safety: the client never sends a path. A URL names a source number and a row number (Flask's
``int`` converter refuses anything else, so ``../`` never reaches us); the file is looked up in
the id → file map built from the dataset's own image ids, and must sit inside the source's image
folder. Anything else is a 404. Thumbnails are decoded once (PIL draft mode), stored as small
JPEGs on disk and kept in memory.

Uploaded query images are size-capped and must decode as an image (:func:`decode_upload`).
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from celebalab.errors import CelebalabError
from celebalab.explorer.sources import ExplorerSource
from celebalab.io import write_bytes_atomic

THUMB_SIZE = 112
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
_MEMORY_THUMBS = 4096
#: Images up to this size come inline with the click's answer (CelebA's JPEGs are ~10 kB).
INLINE_BYTES = 64 * 1024
_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


class UploadError(CelebalabError):
    """An uploaded file is too large or not an image."""


class ImageStore:
    """Serves the images of the opened sources by (source index, row)."""

    def __init__(self, *, sources: Sequence[ExplorerSource], thumb_size: int = THUMB_SIZE) -> None:
        self.sources = list(sources)
        self.thumb_size = thumb_size
        self._memory: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()  # thumbnails are requested from several server threads

    def file(self, source: int, row: int) -> Path | None:
        """The image file of ``row`` of source ``source`` if it exists inside its folder."""
        if not 0 <= source < len(self.sources):
            return None
        src = self.sources[source]
        path = src.image_file(row)
        if path is None or src.image_dir is None:
            return None
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(src.image_dir.resolve()) or not resolved.is_file():
            return None
        return resolved

    def data_url(self, source: int, row: int, most: int = INLINE_BYTES) -> str | None:
        """The image of ``row`` as a ``data:`` URL when its file is at most ``most`` bytes, else
        None (then the browser fetches it by URL).

        The clicked image then arrives with the callback's answer: no second request, which
        queued behind the similar faces' thumbnails on a busy server (click → image up to
        0.5 s instead of ~0.1 s)."""
        path = self.file(source, row)
        if path is None or path.stat().st_size > most:
            return None
        kind = _MIME.get(path.suffix.lower())
        if kind is None:
            return None
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"

    def thumbnail_data_url(self, source: int, row: int) -> str | None:
        """The thumbnail of ``row`` as a ``data:`` URL (None if no image): a gallery that comes
        with a click's answer then needs no further requests, which the next click queued behind."""
        data = self.thumbnail(source, row)
        return None if data is None else f"data:image/jpeg;base64,{base64.b64encode(data).decode()}"

    def thumbnail(self, source: int, row: int) -> bytes | None:
        """JPEG bytes of the thumbnail (made once, then from memory or disk), None if no image."""
        key = (source, row)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        path = self.file(source, row)
        if path is None:
            return None
        src = self.sources[source]
        cached = src.cache_dir / f"thumbs-{src.fingerprint[:16]}-{self.thumb_size}" / f"{row}.jpg"
        if cached.exists():
            data = cached.read_bytes()
        else:
            data = _make_thumbnail(path, self.thumb_size)
            if data is None:
                return None
            write_bytes_atomic(cached, data)
        with self._lock:
            self._memory[key] = data
            while len(self._memory) > _MEMORY_THUMBS:
                self._memory.popitem(last=False)
        return data


def _make_thumbnail(path: Path, size: int) -> bytes | None:
    """A JPEG of at most ``size`` px on its longer side, or None for a corrupt file."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))
            image = image.convert("RGB")
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85)
            return out.getvalue()
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def decode_upload(contents: str, max_bytes: int = MAX_UPLOAD_BYTES) -> Image.Image:
    """The RGB image of a ``dcc.Upload`` data URL; UploadError when too large or not an image."""
    header, _, payload = (contents or "").partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise UploadError("the upload is not a file (expected an image)")
    if len(payload) * 3 // 4 > max_bytes:
        raise UploadError(f"the image is larger than {max_bytes // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("the upload is not valid base64 data") from None
    if len(data) > max_bytes:
        raise UploadError(f"the image is larger than {max_bytes // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise UploadError(f"the image has more than {MAX_UPLOAD_PIXELS} pixels")
            image.load()
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        raise UploadError("the file does not decode as an image (JPEG or PNG expected)") from None

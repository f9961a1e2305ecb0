"""Copies of images that may leave the restricted roles: every metadata block removed.

Pillow decodes the image and encodes the pixels again with nothing else: no EXIF (GPS,
camera serials, owner names, maker notes), no XMP, no IPTC, no ICC profile, no comments.
The orientation EXIF held is applied to the pixels first, so the copy looks the same.
HEIC is not decoded here (Pillow has no HEIF codec without a plugin): no copy, only originals.

A small file can claim a huge image (a 760 KB PNG of 14000 x 14000 took 2 GB to decode, a
security review found): the size in the header is checked before any pixel is decoded,
JPEG thumbnails are decoded at a reduced scale, and at most ``AT_ONCE`` images are decoded
at a time in a process. Bytes that are no decodable image are ``UnreadableImage``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import Image, ImageOps

from sync.errors import SyncError

STRIPPABLE = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
THUMB_PX = 320
MAX_PIXELS = 64_000_000  # 8000 x 8000: above every phone camera's photo (about 50 MP)
AT_ONCE = 2  # images decoded at a time: each up to MAX_PIXELS x 4 bytes, 256 MB
# Pillow's own guard (it warns above this, fails at twice) only as a backstop: ours reads the
# header's size first and refuses with a clear error, where Pillow's warning would let it by.
Image.MAX_IMAGE_PIXELS = 4 * MAX_PIXELS
_decoding = threading.BoundedSemaphore(AT_ONCE)


class UnreadableImage(SyncError):
    """The bytes do not decode as the image they are, or claim more pixels than a photo."""

    code = "attachment_unreadable"


@contextmanager
def _decoded(data: IO[bytes], draft_px: int | None = None) -> Iterator[Image.Image]:
    """The image, its orientation in the pixels and in a mode every encoder takes."""
    with _decoding:
        try:
            image: Image.Image = Image.open(data)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnreadableImage(
                    "the image has more pixels than a photo",
                    {"width": width, "height": height, "max_pixels": MAX_PIXELS},
                )
            if draft_px is not None and image.format == "JPEG":
                image.draft("RGB", (draft_px, draft_px))  # decoded at 1/2 to 1/8 scale
            image = ImageOps.exif_transpose(image)  # orientation in the pixels, before EXIF goes
            if image.mode not in ("RGB", "RGBA", "L"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        except UnreadableImage:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise UnreadableImage("the file does not decode as an image", {}) from exc
        yield image


def _save(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    # No exif=, icc_profile=, xmp= arguments: Pillow writes none of them then. Info dicts are
    # cleared too, since some encoders copy what they find there.
    image.info = {}
    image.save(out, fmt, **options)
    return out.getvalue()


def stripped(data: IO[bytes], media_type: str) -> bytes:
    """The image re-encoded in its own format without any metadata."""
    with _decoded(data) as image:
        return _save(image, STRIPPABLE[media_type])


def thumbnail(data: IO[bytes]) -> bytes:
    """A JPEG at most ``THUMB_PX`` on its longer side, without metadata."""
    with _decoded(data, draft_px=THUMB_PX) as image:
        image.thumbnail((THUMB_PX, THUMB_PX))
        return _save(image, "JPEG")

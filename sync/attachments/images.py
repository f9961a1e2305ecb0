"""Copies of images that may leave the restricted roles: every metadata block removed.

Pillow decodes the image and encodes the pixels again with nothing else: no EXIF (GPS,
camera serials, owner names, maker notes), no XMP, no IPTC, no ICC profile, no comments.
The orientation EXIF held is applied to the pixels first, so the copy looks the same.
HEIC is not decoded here (Pillow has no HEIF codec without a plugin): no copy, only originals.
"""

from __future__ import annotations

import io
from typing import IO

from PIL import Image, ImageOps

STRIPPABLE = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
THUMB_PX = 320
Image.MAX_IMAGE_PIXELS = 100_000_000  # a decompression bomb stops here (about 10000 x 10000)


def _load(data: IO[bytes]) -> Image.Image:
    image: Image.Image = Image.open(data)
    image = ImageOps.exif_transpose(image)  # orientation into the pixels, before EXIF goes
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image


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
    return _save(_load(data), STRIPPABLE[media_type])


def thumbnail(data: IO[bytes]) -> bytes:
    """A JPEG at most ``THUMB_PX`` on its longer side, without metadata."""
    image = _load(data)
    image.thumbnail((THUMB_PX, THUMB_PX))
    return _save(image, "JPEG")

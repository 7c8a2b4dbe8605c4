"""What files the services accept, how their first bytes are checked, and the images made from them.

Types are told by their magic numbers with ``filetype`` (a small, dependency-free, well-kept table of
signatures) — never by the name or the type a client declares. Images are read with Pillow, whose
decompression-bomb guard stays on; on top of it anything over :data:`MAX_PIXELS` is refused before a
pixel is decoded, since Pillow only warns between its limit and twice its limit.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps

MiB = 1024 * 1024
#: The largest image the services decode: 40 megapixels (a 160 MB RGBA bitmap once decoded).
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: How much of an object's start is read to check its type and read an image's header.
SNIFF_BYTES = 64 * 1024

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_ZIP_FAMILY = frozenset(
    {
        "application/zip",
        "application/epub+zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
#: Microsoft's older formats share one container (OLE2), told apart only by reading inside it.
_OLE_FAMILY = frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"})
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

#: The largest file of each accepted type (CONTRACT §9): images 10 MiB, documents and archives 25 MiB.
ATTACHMENT_LIMITS: dict[str, int] = {
    **dict.fromkeys(IMAGE_TYPES, 10 * MiB),
    **dict.fromkeys(["application/pdf", "text/plain"], 25 * MiB),
    **dict.fromkeys(_ZIP_FAMILY - {"application/epub+zip"}, 25 * MiB),
    **dict.fromkeys(_OLE_FAMILY, 25 * MiB),
}
AVATAR_LIMIT = 5 * MiB


def matches_type(declared: str, head: bytes) -> bool:
    """Whether the object's first bytes are of the ``declared`` type (a renamed ``.exe`` is not a PNG)."""
    guessed = filetype.guess_mime(head)
    if guessed == "image/apng":
        guessed = "image/png"  # an animated PNG is a PNG to every viewer
    if declared in IMAGE_TYPES or declared == "application/pdf":
        return guessed == declared
    if declared in _ZIP_FAMILY:
        # A zip's first entry alone tells an office document from a plain archive; accept the family.
        return guessed in _ZIP_FAMILY
    if declared in _OLE_FAMILY:
        return head.startswith(_OLE_MAGIC)
    if declared == "text/plain":
        return guessed is None and _is_text(head)
    return False


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The sniffed range may end inside a character; anything earlier is not UTF-8 text.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


class BadImage(ValueError):
    """An image that cannot be read, or one too large to decode."""


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"the image is over {MAX_PIXELS // 1_000_000} megapixels") from exc
    except Exception as exc:  # Pillow raises many types for broken input (OSError, SyntaxError, struct.error …)
        raise BadImage("the image cannot be read") from exc
    if image.width * image.height > MAX_PIXELS:
        raise BadImage(f"the image is over {MAX_PIXELS // 1_000_000} megapixels")
    return image


def image_size(head: bytes) -> Size:
    """Width and height from the image's header (its first bytes suffice); BadImage when it is broken or huge."""
    image = _open(head)
    return Size(image.width, image.height)


def _decoded(data: bytes) -> Image.Image:
    image = _open(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.seek(0)  # the first frame of an animation
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except BadImage:
        raise
    except Exception as exc:
        raise BadImage("the image cannot be decoded") from exc
    return image.convert("RGBA") if image.mode in ("P", "LA", "PA", "RGBA") else image.convert("RGB")


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def thumbnail(data: bytes, max_side: int = 320) -> tuple[bytes, Size]:
    """A WebP of the image whose longest side is at most ``max_side``; CPU-bound, run it in a thread."""
    image = _decoded(data)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _webp(image), Size(image.width, image.height)


def square(data: bytes, side: int = 256) -> bytes:
    """A ``side``×``side`` WebP cut from the image's centre (an avatar); CPU-bound, run it in a thread."""
    image = _decoded(data)
    return _webp(ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS))

"""Safe media: what uploaded bytes are, checked against the kind they are declared as, and
the bare public copy of an image.

A contribution's ``kind`` (``domain.vocabulary.CONTRIBUTION_KINDS``) says what its bytes must
be, checked here before anything is stored:

- ``photo``: an image, JPEG, PNG, WebP or GIF, recognised by its magic bytes and then decoded
  in full with Pillow (``verify()``, then ``load()`` on a fresh open, restricted to the format
  the magic bytes named). More pixels than the limit is ``ImageTooLargeError`` (a decompression
  bomb is refused from its header, before anything is decoded).
- ``video``: an MP4 (ISO-BMFF ``ftyp`` box, not a HEIF/AVIF image brand) or a WebM/Matroska
  (EBML header) container, by signature only: cocred decodes no video.
- ``idea``, ``text``: strict UTF-8 with no NUL byte.
- ``design``: an image as for ``photo``, or UTF-8 text (a written design brief).

Each kind has its own size limit (``MediaLimits``). Bytes that are something else are
``ContentKindMismatchError``, naming what they are; an image whose magic bytes are right but
that does not decode is ``UndecodableContentError``.

The public copy of an image (``public_copy``) is a re-encode of its pixels alone: the EXIF
orientation is applied first (``ImageOps.exif_transpose``, so the picture stays upright),
then the pixels are copied into a new image that carries no metadata at all (no EXIF, GPS,
XMP, ICC profile, comment or text chunk), saved as JPEG (from a JPEG), WebP (from a WebP) or
PNG (from a PNG or a GIF; an animated GIF or WebP keeps its first frame), with a thumbnail
at most ``THUMBNAIL_SIDE`` pixels on its long side. Pillow is imported inside the functions:
the CLI's command modules import this module's callers without paying for it.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.errors import (
    ContentKindMismatchError,
    ContentTooLargeError,
    ImageTooLargeError,
    UndecodableContentError,
    UnknownContentKindError,
)
from domain.vocabulary import CONTRIBUTION_KINDS

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE, VIDEO, TEXT = "image", "video", "text"
# What each contribution kind's bytes may be, in the order a refusal names them.
FORMS: dict[str, tuple[str, ...]] = {
    "photo": (IMAGE,),
    "design": (IMAGE, TEXT),
    "video": (VIDEO,),
    "idea": (TEXT,),
    "text": (TEXT,),
}
assert set(FORMS) == set(CONTRIBUTION_KINDS)
_EXPECTED = {
    IMAGE: "a JPEG, PNG, WebP or GIF image",
    VIDEO: "an MP4 or WebM video container",
    TEXT: "UTF-8 text",
}
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")  # Pillow's names; the only ones decoded
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "MP4": "video/mp4",
    "WebM": "video/webm",
    "Matroska": "video/x-matroska",
    "UTF-8": "text/plain; charset=utf-8",
}
# ISO-BMFF major brands of still images (HEIF, AVIF): an ``ftyp`` box, yet not a video.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
THUMBNAIL_SIDE = 512
JPEG_QUALITY = 88
DEFAULT_IMAGE_PIXELS = 40_000_000


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The bytes each form of content may take, and the pixels an image may have."""

    image_bytes: int = 16 * 1024 * 1024
    video_bytes: int = 16 * 1024 * 1024
    text_bytes: int = 1024 * 1024
    image_pixels: int = DEFAULT_IMAGE_PIXELS

    def bytes_for(self, kind: str) -> int:
        """The size limit of ``kind`` (the largest of its forms')."""
        limits = {IMAGE: self.image_bytes, VIDEO: self.video_bytes, TEXT: self.text_bytes}
        return max(limits[form] for form in FORMS[kind])

    def bytes_of(self, form: str) -> int:
        return {IMAGE: self.image_bytes, VIDEO: self.video_bytes, TEXT: self.text_bytes}[form]


@dataclass(frozen=True, slots=True)
class Media:
    """What checked bytes are: their ``form`` (image, video, text) and ``format``."""

    form: str
    format: str  # JPEG, PNG, WEBP, GIF, MP4, WebM, Matroska, UTF-8

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class PublicCopy:
    """An image's bare re-encode and its thumbnail, both of ``media_type``."""

    media_type: str
    data: bytes
    thumbnail: bytes


# -- what the bytes are ----------------------------------------------------------------------


def sniff(data: bytes) -> Media | None:
    """The image or video format ``data``'s signature names, or UTF-8 text; None otherwise."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return Media(IMAGE, "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Media(IMAGE, "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Media(IMAGE, "GIF")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Media(IMAGE, "WEBP")
    if head[4:8] == b"ftyp" and head[8:12] not in _IMAGE_BRANDS:
        return Media(VIDEO, "MP4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Media(VIDEO, "WebM" if b"webm" in head else "Matroska")
    if _utf8_fault(data) is None:
        return Media(TEXT, "UTF-8")
    return None


_OTHER = (  # signatures named in a refusal, never accepted
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"<?xml", "an XML document"),
    (b"<svg", "an SVG image"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
)
FORMAT_NAMES = {
    "JPEG": "a JPEG image",
    "PNG": "a PNG image",
    "WEBP": "a WebP image",
    "GIF": "a GIF image",
    "MP4": "an MP4 video",
    "WebM": "a WebM video",
    "Matroska": "a Matroska video",
    "UTF-8": "UTF-8 text",
}


def describe(data: bytes) -> str:
    """What ``data`` is, for a sentence: "a PNG image", "UTF-8 text", "of no recognised format"."""
    found = sniff(data)
    if found is not None:
        return FORMAT_NAMES[found.format]
    if data[4:8] == b"ftyp":
        return "a HEIF or AVIF image"
    for magic, name in _OTHER:
        if data.startswith(magic):
            return name
    return "of no recognised format"


def _utf8_fault(data: bytes) -> str | None:
    """Why ``data`` is not strict UTF-8 without NUL (a phrase), or None when it is."""
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        return f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8"
    nul = data.find(b"\x00")
    if nul >= 0:
        return f"they hold a NUL byte at offset {nul}"
    return None


# -- the check at upload ---------------------------------------------------------------------


def expected_of(kind: str) -> str:
    """What ``kind``'s bytes may be, for a sentence: "a JPEG, PNG, WebP or GIF image"."""
    return " or ".join(_EXPECTED[f] for f in FORMS[kind])


def check_kind(kind: str) -> tuple[str, ...]:
    """The forms ``kind`` allows; ``UnknownContentKindError`` for a kind that is not one."""
    if kind not in FORMS:
        raise UnknownContentKindError(
            f"content kind must be one of {', '.join(CONTRIBUTION_KINDS)}, not {kind!r}",
            kind=kind,
        )
    return FORMS[kind]


def check_size(digest: str, kind: str, size: int, limits: MediaLimits) -> None:
    """``ContentTooLargeError`` when ``size`` bytes are over ``kind``'s limit."""
    check_kind(kind)
    limit = limits.bytes_for(kind)
    if size > limit:
        raise ContentTooLargeError(
            f"content {digest} of {size} bytes is over the limit of {limit} bytes for a {kind}",
            content=digest,
            kind=kind,
            size=size,
        )


def inspect(data: bytes, digest: str, kind: str, limits: MediaLimits) -> Media:
    """What ``data`` (hashing to ``digest``) is, if it may be a ``kind``; raise otherwise.

    Raises ``UnknownContentKindError``, ``ContentTooLargeError`` (over the limit of the
    form the bytes are), ``ContentKindMismatchError``, ``UndecodableContentError`` and
    ``ImageTooLargeError``.
    """
    forms = check_kind(kind)
    # Text first for the kinds that take it: "GIF89a is my favourite" is text, not a GIF.
    found = Media(TEXT, "UTF-8") if TEXT in forms and _utf8_fault(data) is None else sniff(data)
    if found is None or found.form not in forms:
        what = describe(data)
        why = ""
        if found is None and TEXT in forms:
            why = f" ({_utf8_fault(data)})"
        raise ContentKindMismatchError(
            f"content {digest}: the bytes are {what}{why}, not the declared {kind} "
            f"({expected_of(kind)})",
            content=digest,
            kind=kind,
        )
    limit = limits.bytes_of(found.form)
    if len(data) > limit:
        raise ContentTooLargeError(
            f"content {digest} of {len(data)} bytes is over the limit of {limit} bytes for "
            f"{found.form} content (the declared {kind})",
            content=digest,
            kind=kind,
            size=len(data),
        )
    if found.form == IMAGE:
        _decode(data, digest, kind, found.format, limits.image_pixels)
    return found


_quiet = False


def _open(data: bytes, digest: str, kind: str, fmt: str, pixels: int) -> Image:
    """``data`` opened by Pillow as ``fmt`` only (lazily), its pixel count checked."""
    from PIL import Image

    # Pillow's own guard refuses over twice its MAX_IMAGE_PIXELS (and warns over it) as
    # it reads the header; the check below refuses anything over the limit itself, so the
    # warning says nothing more (it is silenced once, for the process).
    global _quiet
    if not _quiet:
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        _quiet = True
    Image.MAX_IMAGE_PIXELS = pixels
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(digest, kind, fmt, found and int(found[1]), pixels) from exc
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error…
        raise _undecodable(digest, kind, fmt, exc) from exc
    width, height = image.size
    if width * height > pixels:
        image.close()
        raise _too_many_pixels(digest, kind, fmt, width * height, pixels)
    return image


def _decode(data: bytes, digest: str, kind: str, fmt: str, pixels: int) -> None:
    """Decode the whole image, twice as Pillow advises: ``verify()``, then a fresh ``load()``."""
    with _open(data, digest, kind, fmt, pixels) as image:
        try:
            image.verify()
        except Exception as exc:
            raise _undecodable(digest, kind, fmt, exc) from exc
    with _open(data, digest, kind, fmt, pixels) as image:
        try:
            image.load()
        except Exception as exc:
            raise _undecodable(digest, kind, fmt, exc) from exc


def _undecodable(digest: str, kind: str, fmt: str, exc: BaseException) -> UndecodableContentError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UndecodableContentError(
        f"content {digest} declared as a {kind} starts like {FORMAT_NAMES[fmt]} but does not "
        f"decode: {reason}",
        content=digest,
        kind=kind,
        format=fmt,
    )


def _too_many_pixels(
    digest: str, kind: str, fmt: str, found: int | None, pixels: int
) -> ImageTooLargeError:
    of = "" if found is None else f" of {found} pixels"
    return ImageTooLargeError(
        f"content {digest} declared as a {kind} is {FORMAT_NAMES[fmt]}{of}, over the limit of "
        f"{pixels} pixels",
        content=digest,
        kind=kind,
        pixels=pixels,
    )


# -- the public copy -------------------------------------------------------------------------


def public_copy(data: bytes, digest: str, fmt: str, pixels: int) -> PublicCopy:
    """The bare re-encode of image ``data`` (of format ``fmt``) and its thumbnail.

    Raises what ``inspect`` raises for an image that does not decode or is too large.
    """
    from PIL import ImageOps

    kind = "image"
    with _open(data, digest, kind, fmt, pixels) as opened:
        try:
            upright = ImageOps.exif_transpose(opened)
            alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            if fmt == "JPEG":
                alpha = False
            pixels_only = upright.convert("RGBA" if alpha else "RGB")
        except Exception as exc:
            raise _undecodable(digest, kind, fmt, exc) from exc
    bare = _bare(pixels_only)
    out = "JPEG" if fmt == "JPEG" else "WEBP" if fmt == "WEBP" else "PNG"
    small = bare.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return PublicCopy(MEDIA_TYPES[out], _encode(bare, out), _encode(_bare(small), out))


def _bare(image: Image) -> Image:
    """A new image holding ``image``'s pixels and nothing else (its ``info`` is empty)."""
    from PIL import Image

    return Image.frombytes(image.mode, image.size, image.tobytes())


def _encode(image: Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()

"""The content store: bytes by SHA-256, verified on upload, next to the log."""

from __future__ import annotations

import hashlib
import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.bootstrap import Services
from domain.content import ContentStore, sha256_of
from domain.errors import (
    ContentKindMismatchError,
    ContentMismatchError,
    ContentTooLargeError,
    DomainError,
    ImageTooLargeError,
    NoPublicCopyError,
    NoThumbnailError,
    UndecodableContentError,
    UnknownContentError,
    UnknownContentKindError,
)
from domain.media import MediaLimits, inspect, public_copy
from tests.support import (
    CAMERA_SERIAL,
    MP4_HEAD,
    WEBM_HEAD,
    jpeg_with_gps,
    png_bomb,
    png_bytes,
)


def test_content_is_stored_once_under_its_hash(services: Services) -> None:
    store = services.content
    digest = store.put(b"harbour at dusk")
    assert digest == hashlib.sha256(b"harbour at dusk").hexdigest()
    assert store.put(b"harbour at dusk", digest) == digest  # again, with its hash: a no-op
    assert store.get(digest) == b"harbour at dusk"
    assert store.put_many([b"one", b"two", b"one"]) == [
        hashlib.sha256(b).hexdigest() for b in (b"one", b"two", b"one")
    ]
    assert store.has(hashlib.sha256(b"two").hexdigest())


def test_an_upload_that_does_not_match_its_announced_hash_stores_nothing(
    services: Services,
) -> None:
    store = services.content
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ContentMismatchError) as caught:
        store.put_many([b"fine", b"tampered"], [None, wrong])
    assert caught.value.detail == (
        f"uploaded bytes hash to {hashlib.sha256(b'tampered').hexdigest()}, not to the "
        f"announced {wrong}"
    )
    assert not store.has(hashlib.sha256(b"fine").hexdigest()), "all or nothing"


def test_unknown_content_is_a_typed_error(services: Services) -> None:
    with pytest.raises(UnknownContentError) as caught:
        services.content.get("f" * 64)
    assert caught.value.detail == f"no content with hash {'f' * 64}"


# -- safe media (issue 19): the bytes are what their kind says, and the public copy is bare ----


def _store(services: Services, **limits: int) -> ContentStore:
    """The world's content store with other media limits (the same tables)."""
    return ContentStore(
        services.settings.database_url, engine=services.engine, limits=MediaLimits(**limits)
    )


def _bare(data: bytes) -> Image.Image:
    """``data`` as an image that carries no metadata at all (asserted)."""
    image = Image.open(io.BytesIO(data))
    assert dict(image.getexif()) == {}
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(image.info)
    return image


def _no_trace_of_the_camera(data: bytes) -> None:
    assert CAMERA_SERIAL.encode() not in data
    assert b"Acme Cameras" not in data and b"home address" not in data
    assert b"Exif\x00\x00" not in data and b"xmpmeta" not in data
    assert struct.pack(">II", 48, 1) not in data  # the GPS latitude's degrees, as EXIF stores them


def test_a_photo_keeps_its_original_and_gets_a_bare_upright_public_copy(
    services: Services,
) -> None:
    store = services.content
    original = jpeg_with_gps(size=(900, 600), orientation=6)  # taken with the camera on its side
    digest = store.put(original, kind="photo", uploader="a" * 43, campaign="c")
    assert store.get(digest) == original and sha256_of(store.get(digest)) == digest
    public, thumbnail = store.public(digest), store.thumbnail(digest)
    assert public.media_type == thumbnail.media_type == "image/jpeg"
    copy = _bare(public.data)
    assert copy.size == (600, 900), "orientation 6 applied: the picture stays upright"
    assert max(_bare(thumbnail.data).size) == 512
    for served in (public.data, thumbnail.data):
        _no_trace_of_the_camera(served)
    assert store.uploads(digest) == [("a" * 43, "c")]
    assert store.media_type_of(digest) == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "kind", "error", "sentence"),
    [
        (
            png_bytes(),
            "video",
            ContentKindMismatchError,
            "content {d}: the bytes are a PNG image, not the declared video (an MP4 or WebM "
            "video container)",
        ),
        (
            bytes(range(7, 256)),
            "photo",
            ContentKindMismatchError,
            "content {d}: the bytes are of no recognised format, not the declared photo (a "
            "JPEG, PNG, WebP or GIF image)",
        ),
        (
            b"a kite over the harbour",
            "photo",
            ContentKindMismatchError,
            "content {d}: the bytes are UTF-8 text, not the declared photo (a JPEG, PNG, WebP "
            "or GIF image)",
        ),
        (
            jpeg_with_gps()[:1200],
            "photo",
            UndecodableContentError,
            "content {d} declared as a photo starts like a JPEG image but does not decode: "
            "image file is truncated",
        ),
        (
            png_bomb(),
            "design",
            ImageTooLargeError,
            "content {d} declared as a design is a PNG image of 10000000000 pixels, over the "
            "limit of 40000000 pixels",
        ),
        (
            png_bomb(8000, 6000),  # over the limit, under Pillow's own 2x guard
            "photo",
            ImageTooLargeError,
            "content {d} declared as a photo is a PNG image of 48000000 pixels, over the "
            "limit of 40000000 pixels",
        ),
        (
            b"caf\xe9 au lait",
            "text",
            ContentKindMismatchError,
            "content {d}: the bytes are of no recognised format (byte 0xe9 at offset 3 is not "
            "valid UTF-8), not the declared text (UTF-8 text)",
        ),
        (
            b"an idea\x00with a NUL",
            "idea",
            ContentKindMismatchError,
            "content {d}: the bytes are of no recognised format (they hold a NUL byte at "
            "offset 7), not the declared idea (UTF-8 text)",
        ),
        (
            MP4_HEAD,
            "design",
            ContentKindMismatchError,
            "content {d}: the bytes are an MP4 video, not the declared design (a JPEG, PNG, "
            "WebP or GIF image or UTF-8 text)",
        ),
        (
            b"a sketch",
            "sketch",
            UnknownContentKindError,
            "content kind must be one of idea, photo, video, design, text, not 'sketch'",
        ),
    ],
    ids=[
        "png-as-video", "random-as-photo", "text-as-photo", "truncated-jpeg", "bomb",
        "over-pixels", "bad-utf8", "nul", "mp4-as-design", "unknown-kind",
    ],
)  # fmt: skip
def test_bytes_that_are_not_their_kind_are_refused_and_nothing_is_stored(
    services: Services, data: bytes, kind: str, error: type[DomainError], sentence: str
) -> None:
    store = services.content
    digest = sha256_of(data)
    with pytest.raises(error) as caught:
        store.put(data, kind=kind, uploader="a" * 43, campaign="c")
    assert caught.value.detail.startswith(sentence.format(d=digest)), caught.value.detail
    assert not store.has(digest) and store.uploads(digest) == []


@pytest.mark.parametrize(
    ("data", "kind", "limit", "sentence"),
    [
        (png_bytes(), "photo", "image_bytes", "for a photo"),
        (MP4_HEAD + b"\x00" * 100, "video", "video_bytes", "for a video"),
        (b"x" * 100, "idea", "text_bytes", "for a idea"),
    ],
)
def test_each_form_of_content_has_its_own_size_limit(
    services: Services, data: bytes, kind: str, limit: str, sentence: str
) -> None:
    store = _store(services, **{limit: 64})
    digest = sha256_of(data)
    with pytest.raises(ContentTooLargeError) as caught:
        store.put(data, kind=kind)
    assert caught.value.detail == (
        f"content {digest} of {len(data)} bytes is over the limit of 64 bytes {sentence}"
    )
    assert not store.has(digest)


def test_a_design_brief_in_text_is_held_to_the_text_limit(services: Services) -> None:
    store = _store(services, text_bytes=8)
    brief = b"a long design brief"
    with pytest.raises(ContentTooLargeError) as caught:
        store.put(brief, kind="design")
    assert caught.value.detail == (
        f"content {sha256_of(brief)} of 19 bytes is over the limit of 8 bytes for text content "
        "(the declared design)"
    )


def test_a_video_is_kept_by_its_signature_and_has_no_public_copy(services: Services) -> None:
    store = services.content
    for head in (MP4_HEAD, WEBM_HEAD):
        digest = store.put(head + b"\x00" * 64, kind="video")
        with pytest.raises(NoPublicCopyError) as caught:
            store.public(digest)
        assert caught.value.detail == (
            f"content {digest} is {'an MP4' if head == MP4_HEAD else 'a WebM'} video: cocred "
            "keeps no public copy of a video (it does not strip container metadata); only its "
            "author and its campaign's brand may read the original (GET "
            f"/content/{digest}/original, signed)"
        )
        with pytest.raises(NoPublicCopyError):
            store.thumbnail(digest)


def test_text_is_public_as_it_is_and_has_no_thumbnail(services: Services) -> None:
    store = services.content
    digest = store.put(b"a kite over the harbour", kind="idea")
    assert store.public(digest).data == b"a kite over the harbour"
    assert store.public(digest).media_type == "text/plain; charset=utf-8"
    with pytest.raises(NoThumbnailError) as caught:
        store.thumbnail(digest)
    assert caught.value.detail == f"content {digest} is UTF-8 text: only an image has a thumbnail"


def test_content_stored_before_the_checks_gets_its_public_copy_on_first_read(
    services: Services,
) -> None:
    """Stored without a kind (an upload before issue 19, the demo): classified on a read."""
    store = services.content
    photo = store.put(jpeg_with_gps(orientation=1))
    assert store.get(photo) == jpeg_with_gps(orientation=1)
    _no_trace_of_the_camera(store.public(photo).data)
    _bare(store.thumbnail(photo).data)
    broken = store.put(jpeg_with_gps()[:900])
    with pytest.raises(NoPublicCopyError) as caught:
        store.public(broken)
    assert caught.value.detail.startswith(
        f"content {broken} is a JPEG image that does not decode: it has no public copy; only "
    )
    pdf = store.put(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n/Author (Ana)")
    with pytest.raises(NoPublicCopyError):
        store.public(pdf)
    blob = store.put(bytes(range(7, 256)))
    assert store.public(blob).media_type == "application/octet-stream"


def test_a_second_upload_of_stored_bytes_is_checked_against_its_kind(services: Services) -> None:
    store = services.content
    digest = store.put(b"a kite over the harbour", kind="idea", uploader="a" * 43, campaign="c")
    with pytest.raises(ContentKindMismatchError):
        store.accept_stored(digest, "photo", "b" * 43, "c")
    store.accept_stored(digest, "text", "b" * 43, "d")
    assert sorted(store.uploads(digest)) == [("a" * 43, "c"), ("b" * 43, "d")]


SAMPLE = jpeg_with_gps(size=(64, 48))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2048),
        st.builds(lambda cut: SAMPLE[:cut], st.integers(0, len(SAMPLE))),
        st.builds(
            lambda at, byte: SAMPLE[:at] + bytes([byte]) + SAMPLE[at + 1 :],
            st.integers(0, len(SAMPLE) - 1),
            st.integers(0, 255),
        ),
    )
)
def test_any_bytes_declared_as_a_photo_are_refused_or_yield_a_bare_copy(data: bytes) -> None:
    """Pure: ``domain.media`` without a store (the store only adds the rows). The store makes
    the public copy before it stores anything (``ContentStore._media_row``), so bytes whose
    copy cannot be made are refused too: hypothesis found a JPEG that decodes but whose EXIF
    makes Pillow's transpose fail (``UndecodableContent``, nothing stored)."""
    digest = sha256_of(data)
    try:
        found = inspect(data, digest, "photo", MediaLimits())
        copy = public_copy(data, digest, found.format, MediaLimits().image_pixels)
    except (ContentKindMismatchError, UndecodableContentError, ImageTooLargeError):
        return
    _bare(copy.data)
    _bare(copy.thumbnail)
    assert CAMERA_SERIAL.encode() not in copy.data + copy.thumbnail

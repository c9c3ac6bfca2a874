"""The content store: bytes by SHA-256, verified on upload, next to the log."""

from __future__ import annotations

import hashlib

import pytest

from api.bootstrap import Services
from domain.errors import ContentMismatchError, UnknownContentError


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

"""Helpers shared by the tests: infrastructure checks, PostgreSQL schemas, actors.

Locally, a test that needs PostgreSQL, Node packages, an Ethereum node or Chromium
skips with a reason when that thing is absent. ``.ci/run`` sets ``COCRED_STRICT=1``,
and then the same absence fails the test instead: CI must run everything.
"""

from __future__ import annotations

import os
import uuid
from typing import NoReturn

import pytest

from ledger.actors import KEY_REGISTERED
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey, public_jwk

STRICT = os.environ.get("COCRED_STRICT") == "1"
PG_URL = os.environ.get("COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> NoReturn:
    """Skip (locally) or fail (under COCRED_STRICT=1) because ``reason``."""
    if STRICT:
        pytest.fail(f"required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_error() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {exc}".strip()
    return None


def fresh_postgres_url() -> str:
    """A URL naming a new, empty schema in the test database (skip/fail if unreachable)."""
    problem = postgres_error()
    if problem:
        unavailable(problem)
    return f"{PG_URL}?schema=t_{uuid.uuid4().hex[:16]}"


def drop_postgres_schema(url: str) -> None:
    import psycopg
    from psycopg.sql import SQL, Identifier

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema)))


def registration(key: SigningKey) -> Envelope:
    """The key's self-signed KeyRegistered envelope (seq 1)."""
    return sign_envelope(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1)


def seeded_key(n: int) -> SigningKey:
    """A deterministic key for test number ``n``."""
    return SigningKey.from_seed(n.to_bytes(32, "big"))


# -- media bytes (issue 19's safe media) -------------------------------------------------------

GPS_LATITUDE = (48.0, 51.0, 24.5)  # where the photo was taken, in its EXIF GPS IFD
CAMERA_SERIAL = "SN-4242-CAMERA"  # EXIF 0xA431 BodySerialNumber


def jpeg_with_gps(size: tuple[int, int] = (900, 600), orientation: int = 6) -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera serial and an orientation, with XMP."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Acme Cameras"
    exif.get_ifd(0x8769)[0xA431] = CAMERA_SERIAL
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", GPS_LATITUDE
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>' + CAMERA_SERIAL.encode() + b"</rdf:RDF>"
    out = io.BytesIO()
    picture = Image.new("RGB", size, (30, 90, 160))
    picture.paste((240, 200, 20), (0, 0, size[0] // 3, size[1] // 3))  # a corner to track
    picture.save(out, "JPEG", exif=exif, xmp=xmp + b"</x:xmpmeta>", comment=b"home address")
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG header announcing ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 1024)  # a few rows: the header alone is the bomb
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"

"""QR codes: decoded back by an independent reader (zxing-cpp), SVG well-formed, versions small."""

from __future__ import annotations

import base64
import io
import secrets

import pytest
import zxingcpp
from defusedxml import ElementTree
from PIL import Image

from app.connectors.elicense import qr

SVG_NS = "{http://www.w3.org/2000/svg}"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def reference(length: int = 50) -> str:
    """A text shaped like a presentation reference: ``XYB1.`` + base64url id + ``.`` + MAC."""
    part = (length - 6) // 2
    raw = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    text = f"XYB1.{raw[:part]}.{raw[part : length - 6]}"
    assert len(text) == length
    return text


def decode(image: Image.Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image, formats=QR_ONLY)]


@pytest.mark.parametrize("length", [50, 80])
def test_the_png_decodes_to_the_text(length: int) -> None:
    text = reference(length)
    data = qr.png(text)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    modules = 17 + 4 * qr.version(text) + 2 * qr.BORDER
    assert image.size == (modules * qr.DEFAULT_SCALE, modules * qr.DEFAULT_SCALE)
    assert decode(image) == [text]


def test_the_smallest_scale_still_decodes() -> None:
    text = reference()
    assert decode(Image.open(io.BytesIO(qr.png(text, scale=4)))) == [text]


def test_the_svg_is_a_sized_svg_document() -> None:
    text = reference()
    data = qr.svg(text)
    data.decode("utf-8")
    assert not data.startswith(b"<?xml")
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    modules = 17 + 4 * qr.version(text) + 2 * qr.BORDER
    assert root.get("viewBox") == f"0 0 {modules} {modules}"
    assert root.get("width") == root.get("height") == str(modules * qr.DEFAULT_SCALE)
    assert root.findall(f"{SVG_NS}path")


def test_versions_of_reference_texts_are_small() -> None:
    measured = {length: qr.version(reference(length)) for length in (50, 80)}
    print(f"QR versions (level M, byte mode) by reference length: {measured}")
    assert measured[50] <= 5
    assert measured[80] <= 6


@pytest.mark.parametrize("text", ["", "x" * (qr.MAX_TEXT + 1)])
def test_empty_or_overlong_texts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="QR"):
        qr.png(text)


@pytest.mark.parametrize("scale", [0, 3, True])
def test_scales_below_four_pixels_are_refused(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        qr.png(reference(), scale=scale)

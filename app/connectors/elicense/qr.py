"""QR codes for e-license presentations (segno): PNG, SVG and the symbol's version.

The encoded text is the presentation's short reference (``XYB1.<id>.<mac>``, ~50 ASCII
characters), never the SD-JWT itself: a verifier looks the reference up. Measured with
segno 1.6: a 50-character mixed-case reference is a version 4 symbol (33x33 modules), an
80-character one version 5 (37x37), both at error correction level M in byte mode.
"""

from __future__ import annotations

import io

import segno

__all__ = ["BORDER", "DEFAULT_SCALE", "MAX_TEXT", "png", "svg", "version"]

# M restores ~15% of damaged modules: a code shown on a phone screen loses modules to glare and
# reflections, which L (~7%) copes with badly, while Q/H would make the symbol larger for codes
# that are never printed, folded or soiled.
_ERROR = "m"
BORDER = 4  # the quiet zone ISO/IEC 18004 requires for QR Code (not Micro QR) symbols
# Pixels per module in the PNG: scanners want >= 4; 8 gives a 328-360 px image for our versions,
# sharp on high-density screens without scaling artefacts.
DEFAULT_SCALE = 8
_MIN_SCALE = 4
MAX_TEXT = 512  # references are ~50-80 characters; a bound keeps a caller from making a v40 code
_DARK = "#000"
# A light quiet zone drawn explicitly: a transparent one vanishes on a dark-mode page.
_LIGHT = "#fff"


def _make(text: str) -> segno.QRCode:
    if not isinstance(text, str) or not text:
        raise ValueError("a QR code needs a non-empty text")
    if len(text) > MAX_TEXT:
        raise ValueError(f"a QR code text is at most {MAX_TEXT} characters")
    # micro=False: Micro QR is too small for the reference and many phone scanners cannot read
    # it. No version given: segno picks the smallest one that holds the text at level M.
    # boost_error stays on: segno raises the level only while the version stays the same, so it
    # adds robustness without making the symbol bigger.
    return segno.make(text, error=_ERROR, micro=False, boost_error=True)


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < _MIN_SCALE:
        raise ValueError(f"scale must be an integer of at least {_MIN_SCALE} pixels per module")


def version(text: str) -> int:
    """The QR version (1-40) that ``text`` is encoded with: its size is 17 + 4 x version modules."""
    found = _make(text).version
    if not isinstance(found, int):  # only a Micro QR symbol has a version like "M4"
        raise TypeError(f"unexpected QR version {found!r}")
    return found


def png(text: str, *, scale: int = DEFAULT_SCALE) -> bytes:
    """``text`` as a PNG QR code, ``scale`` pixels per module, black on white, 4-module border."""
    _check_scale(scale)
    out = io.BytesIO()
    _make(text).save(out, kind="png", scale=scale, border=BORDER, dark=_DARK, light=_LIGHT)
    return out.getvalue()


def svg(text: str, *, scale: int = DEFAULT_SCALE) -> bytes:
    """``text`` as a UTF-8 SVG QR code: a module-unit viewBox, width and height ``scale`` x that."""
    _check_scale(scale)
    code = _make(text)
    out = io.BytesIO()
    # One user unit per module and a viewBox, so the image scales cleanly to any size; no XML
    # declaration, so the bytes can also be inlined into HTML.
    code.save(
        out,
        kind="svg",
        scale=1,
        border=BORDER,
        dark=_DARK,
        light=_LIGHT,
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
    )
    document = out.getvalue()
    # segno writes either width/height or a viewBox; with both, an <img> without CSS shows the
    # code at a scannable size and it still scales.
    size = code.symbol_size(scale=scale, border=BORDER)[0]
    opening = b"<svg "
    if not document.startswith(opening):
        raise RuntimeError("segno's SVG does not start with <svg")
    return opening + f'width="{size}" height="{size}" '.encode("ascii") + document[len(opening) :]

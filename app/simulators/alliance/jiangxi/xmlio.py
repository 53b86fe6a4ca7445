"""赣服通's XML: reading a request safely, writing the answer envelope, and the hostile answers a
fault can send instead.

Requests are parsed with defusedxml, DTDs, entity declarations and external references
forbidden: such a request is refused (never expanded), as a partner hardened against XXE does.
"""

from __future__ import annotations

# The standard library only builds answers; requests are parsed with defusedxml.
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from starlette.responses import Response

MEDIA_TYPE = "application/xml; charset=UTF-8"
MAX_REQUEST_BYTES = 64 * 1024
Hostile = Literal["xxe", "billion-laughs"]
HOSTILE_MODES: tuple[Hostile, ...] = ("xxe", "billion-laughs")


@dataclass(frozen=True, slots=True)
class ListOf:
    """Repeated ``item`` elements, one per record."""

    item: str
    records: Iterable[Mapping[str, object]]


class Unreadable(Exception):
    """A request body that is not one of 赣服通's requests (answered with an HTTP 4xx)."""

    def __init__(self, status: int, ret_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.ret_code = ret_code
        self.message = message


# The RetCodes of unreadable requests.
MALFORMED = "1002"
FORBIDDEN_XML = "1003"


@dataclass(frozen=True, slots=True)
class XmlRequest:
    """A request's Head and Body fields (element name -> stripped text; empty: absent)."""

    head: dict[str, str]
    body: dict[str, str]


def _fields(element: ET.Element | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if element is None:
        return found
    for child in element:
        text = (child.text or "").strip()
        if len(child) == 0 and text and child.tag not in found:
            found[child.tag] = text
    return found


def parse_request(raw: bytes) -> XmlRequest:
    """``<Request><Head>..</Head><Body>..</Body></Request>`` read safely; :class:`Unreadable`
    for a body too large, not well-formed, of another root, or with a DTD or entities."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise Unreadable(413, "9413", f"请求报文超过{MAX_REQUEST_BYTES // 1024}KB")
    if not raw.strip():
        raise Unreadable(400, MALFORMED, "请求报文为空")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as refused:
        # DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden: never expanded.
        raise Unreadable(
            400, FORBIDDEN_XML, f"请求报文含有DTD或实体声明，已拒绝处理（{type(refused).__name__}）"
        ) from None
    except ET.ParseError as exc:
        raise Unreadable(400, MALFORMED, f"请求报文不是合法的XML：{exc}") from None
    if root.tag != "Request":
        raise Unreadable(400, MALFORMED, "请求报文的根元素应为Request")
    body = root.find("Body")
    if body is None:
        raise Unreadable(400, MALFORMED, "请求报文缺少Body")
    return XmlRequest(_fields(root.find("Head")), _fields(body))


def _append(parent: ET.Element, name: str, value: object) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, ListOf):
        for record in value.records:
            _append(element, value.item, record)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if item is not None:  # an absent value is left out, not an empty element
                _append(element, str(key), item)
    elif value is not None:
        element.text = str(value)


def envelope_bytes(ret_code: str, message: str, body: Mapping[str, object] | None) -> bytes:
    """The answer envelope: ``<Response><Head><RetCode/><RetMsg/></Head><Body/></Response>``."""
    root = ET.Element("Response")
    head = ET.SubElement(root, "Head")
    ET.SubElement(head, "RetCode").text = ret_code
    ET.SubElement(head, "RetMsg").text = message
    _append(root, "Body", body or {})
    written: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return written


def xml_response(
    ret_code: str, message: str, body: Mapping[str, object] | None = None, status: int = 200
) -> Response:
    return Response(envelope_bytes(ret_code, message, body), status, media_type=MEDIA_TYPE)


# -- hostile answers -------------------------------------------------------------------------

_XXE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!DOCTYPE Response [\n"
    '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
    "]>\n"
    "<Response><Head><RetCode>0000</RetCode><RetMsg>&xxe;</RetMsg></Head>"
    "<Body><XM>&xxe;</XM></Body></Response>\n"
)


def _billion_laughs() -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!DOCTYPE Response [",
        '  <!ENTITY lol "lol">',
    ]
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        lines.append(f'  <!ENTITY lol{level} "{f"&{previous};" * 10}">')
    lines.append("]>")
    lines.append(
        "<Response><Head><RetCode>0000</RetCode><RetMsg>&lol9;</RetMsg></Head>"
        "<Body><XM>&lol9;</XM></Body></Response>"
    )
    return "\n".join(lines) + "\n"


HOSTILE_DOCUMENTS: dict[Hostile, bytes] = {
    "xxe": _XXE.encode("utf-8"),
    "billion-laughs": _billion_laughs().encode("utf-8"),
}


def hostile_response(mode: Hostile) -> Response:
    """HTTP 200, application/xml, a document a safe reader must refuse (never expand)."""
    return Response(HOSTILE_DOCUMENTS[mode], 200, media_type=MEDIA_TYPE)

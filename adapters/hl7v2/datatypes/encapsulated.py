"""ED (encapsulated data) to FHIR Attachment: media type from ED.2/ED.3, data from ED.5 by its encoding ED.4.

HL7 v2-to-FHIR IG: datatype map "ED to Attachment"
(http://hl7.org/fhir/uv/v2mappings/ConceptMap-datatype-ed-to-attachment.html). In an ORU, the Attachment of an
OBX-5 ED value is the DiagnosticReport's `presentedForm` (the report as issued, e.g. its PDF).
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.errors import DATA_TYPE_ERROR
from adapters.hl7v2.tree import Segment

MEDIA_TYPES = {"PDF": "application/pdf", "RTF": "application/rtf", "JPEG": "image/jpeg", "JPG": "image/jpeg",
               "PNG": "image/png", "GIF": "image/gif", "TIFF": "image/tiff", "HTML": "text/html",
               "XML": "application/xml", "TEXT": "text/plain", "OCTET-STREAM": "application/octet-stream"}
_TOP_TYPES = {"application", "image", "text", "audio", "video", "multipart", "model"}
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def media_type(kind: str, subtype: str) -> str:
    """A MIME type from ED.2 (type of data) and ED.3 (subtype)."""
    if kind.lower() in _TOP_TYPES and subtype and re.fullmatch(r"[A-Za-z0-9.+-]+", subtype):
        return f"{kind.lower()}/{subtype.lower()}"
    return MEDIA_TYPES.get(subtype.upper()) or MEDIA_TYPES.get(kind.upper()) or "application/octet-stream"


def ed_attachment(ctx: Context, obx: Segment) -> dict[str, Any] | None:
    """The Attachment of an OBX-5 ED value (Base64, Hex or plain text); a warning and None when it is invalid."""
    ed = obx.rep(5)
    encoding, data = ed.c(4).upper(), "".join(ed.c(5).split())
    if not data:
        return None
    try:
        if encoding in ("BASE64", "B64"):
            if not _BASE64.fullmatch(data) or len(data) % 4:
                raise ValueError("not base64")
            base64.b64decode(data, validate=True)
            payload = data
        elif encoding == "HEX":
            payload = base64.b64encode(bytes.fromhex(data)).decode("ascii")
        else:
            payload = base64.b64encode(ed.c(5).encode("utf-8")).decode("ascii")
    except (ValueError, binascii.Error):
        ctx.issue(obx, 5, DATA_TYPE_ERROR, "OBX-5 encapsulated data is not valid for its encoding; not attached",
                  fatal=False)
        return None
    return {"contentType": media_type(ed.c(2), ed.c(3)), "data": payload}

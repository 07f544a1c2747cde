"""HL7 v2 escape sequences (v2.8 chapter 2.7): unescape values read, escape text written."""
from __future__ import annotations

import re

from adapters.hl7v2.model import Encoding

_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_FORMAT_SPACE = re.compile(r"^\.(sp|sk|in|ti)\s*[+-]?\d*$")


def unescape(text: str, enc: Encoding) -> str:
    """Replace escape sequences in one primitive value; unknown or unterminated ones stay as written."""
    esc = enc.escape
    if not esc or esc not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != esc:
            out.append(char)
            i += 1
            continue
        end = text.find(esc, i + 1)
        if end < 0:
            out.append(text[i:])
            break
        body = text[i + 1:end]
        replacement = _sequence(body, enc)
        if replacement is None:
            out.append(char)  # not an escape sequence: keep the character, rescan after it
            i += 1
            continue
        out.append(replacement)
        i = end + 1
    return "".join(out)


def _sequence(body: str, enc: Encoding) -> str | None:
    simple = {"F": enc.field, "S": enc.component, "T": enc.subcomponent, "R": enc.repetition,
              "E": enc.escape, "P": enc.truncation or "", "H": "", "N": ""}
    if body in simple:
        return simple[body]
    if not body:
        return None
    head = body[0]
    if head == "X" and len(body) > 1 and len(body) % 2 == 1 and _HEX.match(body[1:]):
        data = bytes.fromhex(body[1:])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if head in "CM" and len(body) in (5, 7) and _HEX.match(body[1:]):
        return ""  # character set switches: the text is already decoded
    if head == "Z" and len(body) > 1:
        return ""  # locally defined escape: no meaning here
    if body == ".br" or body == ".ce":
        return "\n"
    if body in (".fi", ".nf"):
        return ""
    if _FORMAT_SPACE.match(body):
        return "\n" if body.startswith((".sp", ".sk")) else " "
    return None


def escape(text: str, enc: Encoding) -> str:
    """Escape delimiters in free text so it can be written into a field; newlines become `\\.br\\`."""
    esc = enc.escape or "\\"
    pairs = [(esc, "E"), (enc.field, "F"), (enc.component, "S"), (enc.subcomponent, "T"),
             (enc.repetition, "R")]
    if enc.truncation:
        pairs.append((enc.truncation, "P"))
    out = []
    for char in text.replace("\r\n", "\n").replace("\r", "\n"):
        if char == "\n":
            out.append(f"{esc}.br{esc}")
            continue
        for special, code in pairs:
            if char == special:
                out.append(f"{esc}{code}{esc}")
                break
        else:
            out.append(char)
    return "".join(out)

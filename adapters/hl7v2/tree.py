"""A typed, lazily normalized view over python-hl7's parse tree: segments, fields, repetitions, components."""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.escape import unescape
from adapters.hl7v2.model import Encoding

Parts = tuple[tuple[str, ...], ...]  # components -> subcomponents, raw (still escaped)
HL7_NULL = '""'


class Value:
    """One repetition of a field (or one component seen as a composite of its subcomponents)."""

    __slots__ = ("parts", "enc")

    def __init__(self, parts: Parts, enc: Encoding):
        self.parts = parts
        self.enc = enc

    def c(self, i: int) -> str:
        """Component `i` (1-based), unescaped and trimmed; subcomponents rejoined with their delimiter."""
        if i < 1 or i > len(self.parts):
            return ""
        subs = self.parts[i - 1]
        if len(subs) == 1:
            return _clean(subs[0], self.enc)
        sep = self.enc.subcomponent
        text = sep.join(unescape(s, self.enc) for s in subs).rstrip(sep + " ").strip()
        return "" if not text.strip(sep + " ") or text == HL7_NULL else text

    def s(self, i: int, j: int) -> str:
        """Subcomponent `j` of component `i` (both 1-based), unescaped and trimmed."""
        if i < 1 or i > len(self.parts):
            return ""
        subs = self.parts[i - 1]
        return _clean(subs[j - 1], self.enc) if 1 <= j <= len(subs) else ""

    def comp(self, i: int) -> Value:
        """Component `i` as a Value whose components are its subcomponents (for nested data types)."""
        if i < 1 or i > len(self.parts):
            return Value((), self.enc)
        return Value(tuple((s,) for s in self.parts[i - 1]), self.enc)

    def text(self) -> str:
        """The whole repetition as text: unescaped, delimiters that were not escaped put back."""
        enc = self.enc
        text = self.joined()
        stripped = text.strip(enc.component + enc.subcomponent + " ")
        return "" if stripped in ("", HL7_NULL) else text.rstrip(enc.component + enc.subcomponent).strip()

    def line(self) -> str:
        """The repetition as one line of text (TX/FT): leading spaces kept, trailing delimiters dropped."""
        text = self.joined()
        return "" if text.strip() == HL7_NULL else text.rstrip(self.enc.component + self.enc.subcomponent + " ")

    def joined(self) -> str:
        """Components and subcomponents unescaped and joined with their delimiters, nothing trimmed."""
        enc = self.enc
        return enc.component.join(enc.subcomponent.join(unescape(s, enc) for s in subs) for subs in self.parts)

    @property
    def empty(self) -> bool:
        """True when no component holds a value."""
        return all(s in ("", HL7_NULL) or not s.strip() for subs in self.parts for s in subs)

    def __len__(self) -> int:
        return len(self.parts)


EMPTY_PARTS: Parts = ()


def _clean(raw: str, enc: Encoding) -> str:
    if not raw or raw == HL7_NULL:
        return ""
    return unescape(raw, enc).strip()


def _field_parts(field: Any) -> tuple[Parts, ...]:
    """Normalize a python-hl7 Field (irregularly nested lists and strings) into repetitions of Parts."""
    if isinstance(field, str):
        return (((field,),),)
    reps: list[Parts] = []
    for rep in field:
        if isinstance(rep, str):
            reps.append(((rep,),))
            continue
        comps: list[tuple[str, ...]] = []
        for comp in rep:
            if isinstance(comp, str):
                comps.append((comp,))
            else:
                comps.append(tuple(s if isinstance(s, str) else str(s) for s in comp))
        reps.append(tuple(comps))
    return tuple(reps)


class Segment:
    """One segment; field numbers are HL7's (for MSH, field 1 is the field separator)."""

    __slots__ = ("name", "index", "sequence", "enc", "_raw", "_cache")

    def __init__(self, name: str, raw: Any, index: int, sequence: int, enc: Encoding):
        self.name = name
        self.index = index
        self.sequence = sequence
        self.enc = enc
        self._raw = raw
        self._cache: dict[int, tuple[Parts, ...]] = {}

    def _reps(self, n: int) -> tuple[Parts, ...]:
        cached = self._cache.get(n)
        if cached is None:
            raw = self._raw
            if isinstance(raw, str) or n < 1 or n >= len(raw):
                cached = ()
            else:
                cached = _field_parts(raw[n])
            self._cache[n] = cached
        return cached

    @property
    def field_count(self) -> int:
        """Number of fields present (the highest field number)."""
        return 0 if isinstance(self._raw, str) else len(self._raw) - 1

    def reps(self, n: int) -> list[Value]:
        """The non-empty repetitions of field `n`."""
        values = (Value(parts, self.enc) for parts in self._reps(n))
        return [value for value in values if not value.empty]

    def rep(self, n: int) -> Value:
        """The first non-empty repetition of field `n` (an empty Value when there is none)."""
        for parts in self._reps(n):
            value = Value(parts, self.enc)
            if not value.empty:
                return value
        return Value(EMPTY_PARTS, self.enc)

    def get(self, n: int, comp: int = 1, sub: int | None = None) -> str:
        """Component (or subcomponent) of the first non-empty repetition of field `n`."""
        value = self.rep(n)
        return value.c(comp) if sub is None else value.s(comp, sub)

    def text(self, n: int) -> str:
        """The first non-empty repetition of field `n` as text (see Value.text)."""
        return self.rep(n).text()

    def lines(self, n: int) -> list[str]:
        """Field `n` as lines of text (TX/FT): every repetition, blank ones and indentation kept."""
        return [Value(parts, self.enc).line() for parts in self._reps(n)]

    def has(self, n: int) -> bool:
        """True when field `n` holds a value."""
        return any(not Value(parts, self.enc).empty for parts in self._reps(n))

    def raw(self, n: int) -> str:
        """Field `n` as received (still escaped), '' when absent."""
        enc = self.enc
        return enc.repetition.join(enc.component.join(enc.subcomponent.join(subs) for subs in rep)
                                   for rep in self._reps(n))

    def __repr__(self) -> str:
        return f"<Segment {self.name}[{self.sequence}]>"

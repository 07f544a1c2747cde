"""Clinical abbreviations and lay phrases expanded to the wording coded clinical displays use.

"last A1c" becomes "last A1c hemoglobin a1c": the original words stay, the expansions are appended, so word
search finds records whose displays say "Hemoglobin A1c/Hemoglobin.total in Blood".
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

DEFAULT_RESOURCE = "data/clinical_synonyms.tsv"
_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.casefold()))


class Synonyms:
    """A table of terms (abbreviations, lay phrases) and the wordings each expands to."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._table: dict[tuple[str, ...], list[str]] = {}
        for term, expansion in pairs:
            key = _tokens(term)
            wording = " ".join(expansion.split())
            if not key or not wording:
                raise ValueError(f"synonym needs a term and an expansion: {term!r} -> {expansion!r}")
            targets = self._table.setdefault(key, [])
            if wording not in targets:
                targets.append(wording)
        self._longest = max((len(key) for key in self._table), default=0)

    @classmethod
    def parse(cls, text: str) -> Synonyms:
        """Synonyms from TSV text: `term<TAB>expansion` per line; `#` comments and blank lines ignored."""
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            term, tab, expansion = line.partition("\t")
            if not tab or not term.strip() or not expansion.strip():
                raise ValueError(f"synonyms line {number}: expected 'term<TAB>expansion', got {line!r}")
            pairs.append((term.strip(), expansion.strip()))
        return cls(pairs)

    @classmethod
    def load_default(cls) -> Synonyms:
        """The curated clinical list shipped with the package (loaded once)."""
        return _default()

    def __len__(self) -> int:
        return len(self._table)

    def _lookup(self, key: tuple[str, ...]) -> list[str] | None:
        found = self._table.get(key)
        if found is None and len(key[-1]) >= 3 and key[-1].endswith("s") and not key[-1].endswith("ss"):
            found = self._table.get((*key[:-1], key[-1][:-1]))
        return found

    def expansions(self, query: str) -> list[str]:
        """The wordings for the terms found in `query`, longest phrases first, minus words already there."""
        tokens = _tokens(query)
        found: list[str] = []
        start = 0
        while start < len(tokens):
            for length in range(min(self._longest, len(tokens) - start), 0, -1):
                targets = self._lookup(tokens[start:start + length])
                if targets:
                    found.extend(targets)
                    start += length
                    break
            else:
                start += 1
        present = set(tokens)
        result: list[str] = []
        for wording in found:
            if wording not in result and not set(_tokens(wording)) <= present:
                result.append(wording)
        return result

    def expand(self, query: str) -> str:
        """The query followed by the expansions of its abbreviations and lay phrases."""
        extra = self.expansions(query)
        return f"{query.rstrip()} {' '.join(extra)}" if extra else query


@lru_cache(maxsize=1)
def _default() -> Synonyms:
    text = resources.files("engine.indexing").joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    return Synonyms.parse(text)

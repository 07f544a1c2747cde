"""FTS5 MATCH expressions built only from quoted terms, so user text can never be FTS5 syntax."""
from __future__ import annotations

from adapters.search.query_terms import QueryTerms


def quoted(term: str) -> str:
    """`term` as an FTS5 string (a phrase of its tokens); quotes inside are doubled."""
    return '"' + term.replace('"', '""') + '"'


def any_of(terms: QueryTerms) -> str | None:
    """An FTS5 expression matching rows that hold any of the words or a word starting with any prefix."""
    phrases = [quoted(word) for word in terms.words if word.strip()]
    phrases += [quoted(prefix) + " *" for prefix in terms.prefixes if prefix.strip()]
    return " OR ".join(phrases) if phrases else None

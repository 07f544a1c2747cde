"""Snippets as HTML-safe text whose only markup is <em>…</em> around matched words, for every index."""
from __future__ import annotations

import html

# Asked of the engines' highlighters instead of <em>, so the text can be escaped first. Private-use
# characters, because Elasticsearch trims characters up to U+0020 off a fragment's end (and a mark with them).
MARK_START = "\ue000"
MARK_END = "\ue001"
_NO_MARKS = str.maketrans({MARK_START: " ", MARK_END: " "})


def without_marks(text: str) -> str:
    """`text` with the highlight marker characters blanked (applied to stored text)."""
    return text.translate(_NO_MARKS)


def is_marked(fragment: str) -> bool:
    """True when the highlighter marked a match in `fragment`."""
    return MARK_START in fragment


def marked_to_html(fragment: str) -> str:
    """A highlighter fragment with markers turned into <em>…</em> and everything else escaped."""
    escaped = html.escape(fragment, quote=False)
    return escaped.replace(MARK_START, "<em>").replace(MARK_END, "</em>")


def plain_to_html(text: str) -> str:
    """Unhighlighted text (a title), escaped like a snippet."""
    return html.escape(text, quote=False)

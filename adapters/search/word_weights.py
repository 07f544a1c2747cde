"""How much a match in each text field counts in words ranking, the same in every search index."""
from __future__ import annotations

WORD_FIELD_WEIGHTS = {"title": 3.0, "displays": 2.0, "text": 1.0}

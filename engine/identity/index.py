"""MatchIndex: the blocking indexes and features of known records, for incremental and batch linking."""

from __future__ import annotations

import numpy as np

from engine.identity.blocking import BlockIndex, record_keys
from engine.identity.features import FeatureStore, Normalised, normalise
from engine.identity.model import MatchModel
from engine.identity.records import PersonRecord
from engine.identity.scoring import ScoredPair, Scorer
from engine.identity.settings import MatchSettings
from engine.identity.training import CHUNK, compare_chunked


class MatchIndex:
    """Known records, blocked and normalised once; finds and scores candidates for one record or for all.

    `warnings` holds the warnings of the last `candidates`, `match` or `link_all` call (oversized blocks
    skipped); they name the rule and block size only, never patient data.
    """

    def __init__(self, model: MatchModel, settings: MatchSettings | None = None) -> None:
        self.model = model
        self.settings = settings or model.settings
        self.scorer = Scorer(model, self.settings)
        self.store = FeatureStore()
        self.blocks = BlockIndex(self.settings.blocking_rules)
        self.slots: dict[str, int] = {}
        self.ids: list[str | None] = []  # by slot
        self.keys: list[tuple[tuple[int, str], ...]] = []  # by slot
        self.warnings: list[str] = []

    def __len__(self) -> int:
        return len(self.slots)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self.slots

    def add(self, record: PersonRecord) -> None:
        """Index `record`; a record with the same id is replaced."""
        if record.record_id in self.slots:
            self.remove(record.record_id)
        item = normalise(record)
        slot = self.store.add(item)
        keys = record_keys(item, self.settings.blocking_rules)
        self.blocks.add(slot, keys)
        while len(self.ids) <= slot:
            self.ids.append(None)
            self.keys.append(())
        self.ids[slot] = record.record_id
        self.keys[slot] = tuple(keys)
        self.slots[record.record_id] = slot

    def update(self, record: PersonRecord) -> None:
        """Replace the indexed version of `record` (same as `add`)."""
        self.add(record)

    def remove(self, record_id: str) -> bool:
        """Forget a record; False when it was not indexed."""
        slot = self.slots.pop(record_id, None)
        if slot is None:
            return False
        self.blocks.remove(slot, self.keys[slot])
        self.store.remove(slot)
        self.ids[slot] = None
        self.keys[slot] = ()
        return True

    def candidates(self, record: PersonRecord) -> list[str]:
        """Ids of indexed records sharing a blocking key with `record` (never the record itself)."""
        return [self.ids[slot] or "" for slot in self._candidate_slots(normalise(record), record)]

    def match(self, record: PersonRecord) -> list[ScoredPair]:
        """`record` scored against each of its candidates, most probable first (it is not indexed)."""
        item = normalise(record)
        slots = self._candidate_slots(item, record)
        if not slots:
            return []
        probe = self.store.add(item)
        try:
            right = np.asarray(slots, dtype=np.int64)
            left = np.full(right.size, probe, dtype=np.int64)
            levels = compare_chunked(self.store, left, right)
            ids = {slot: self.ids[slot] for slot in slots}
            ids[probe] = record.record_id
            pairs = self.scorer.scored_pairs(self.store, ids, left, right, levels)
        finally:
            self.store.remove(probe)
        pairs.sort(key=lambda p: -p.probability)
        return pairs

    def link_all(self) -> list[ScoredPair]:
        """Every candidate pair of indexed records at or above the review threshold, most probable first."""
        left, right, warnings = self.blocks.pairs(self.settings.max_block_size)
        self.warnings = warnings
        if not self.settings.link_within_source:
            source = self.store.cols["source"]
            keep = source[left] != source[right]
            left, right = left[keep], right[keep]
        out: list[ScoredPair] = []
        for start in range(0, left.size, CHUNK):
            lo, hi = left[start : start + CHUNK], right[start : start + CHUNK]
            levels = compare_chunked(self.store, lo, hi)
            out.extend(
                self.scorer.scored_pairs(
                    self.store, self.ids, lo, hi, levels, min_probability=self.settings.review_probability
                )
            )
        out.sort(key=lambda p: -p.probability)
        return out

    def _candidate_slots(self, item: Normalised, record: PersonRecord) -> list[int]:
        keys = record_keys(item, self.settings.blocking_rules)
        found, self.warnings = self.blocks.members(keys, self.settings.max_block_size)
        own = self.slots.get(record.record_id)
        found.discard(own)  # type: ignore[arg-type]
        slots = sorted(found)
        if not self.settings.link_within_source and slots:
            source = self.store.sources.get(record.source, -1)
            columns = self.store.cols["source"]
            slots = [s for s in slots if columns[s] != source]
        return slots

"""MatchIndex: the blocking indexes and features of known records, for incremental and batch linking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from engine.identity.blocking import BlockIndex, record_keys
from engine.identity.clustering import clusters, components
from engine.identity.comparisons import FIELD_INDEX, FIELDS
from engine.identity.features import FeatureStore, Normalised, normalise
from engine.identity.model import MatchModel
from engine.identity.records import PersonRecord
from engine.identity.scoring import ScoredPair, Scorer, probability_of
from engine.identity.settings import MatchSettings
from engine.identity.strings import within_two_edits
from engine.identity.training import CHUNK, compare_chunked

# (field, conflict level) of the person-specific fields besides the given name
PERSON_CONFLICTS = tuple((FIELD_INDEX[spec.name], spec.levels.index(spec.conflict or ""))
                         for spec in FIELDS if spec.name in ("birth_date", "sex", "suffix"))


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
        # whether a pair is a clear conflict (see `conflicts`), kept until either record changes
        self._scored: dict[tuple[str, str], bool] = {}
        self._scored_of: dict[str, list[tuple[str, str]]] = {}

    def __len__(self) -> int:
        return len(self.slots)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self.slots

    def add(self, record: PersonRecord, *, normalised: Normalised | None = None) -> None:
        """Index `record` (`normalised`: its `normalise` output, when already computed); a record with the
        same id is replaced."""
        if record.record_id in self.slots:
            self.remove(record.record_id)
        item = normalised or normalise(record)
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
        for pair in self._scored_of.pop(record_id, ()):
            self._scored.pop(pair, None)
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

    def match_indexed(self, record_ids: Sequence[str]) -> dict[str, list[ScoredPair]]:
        """Each indexed record scored against its candidates as `match` would, compared in one batch (a sync
        of many new records pays the vectorised comparisons' fixed cost once, not once per record)."""
        sources = self.store.cols["source"]
        lefts: list[int] = []
        rights: list[int] = []
        for record_id in record_ids:
            slot = self.slots[record_id]
            found, self.warnings = self.blocks.members(list(self.keys[slot]), self.settings.max_block_size)
            found.discard(slot)
            slots = sorted(found)
            if not self.settings.link_within_source:
                slots = [other for other in slots if sources[other] != sources[slot]]
            lefts.extend([slot] * len(slots))
            rights.extend(slots)
        out: dict[str, list[ScoredPair]] = {record_id: [] for record_id in record_ids}
        left, right = np.asarray(lefts, dtype=np.int64), np.asarray(rights, dtype=np.int64)
        for start in range(0, left.size, CHUNK):
            lo, hi = left[start : start + CHUNK], right[start : start + CHUNK]
            for pair in self.scorer.scored_pairs(self.store, self.ids, lo, hi, compare_chunked(self.store, lo, hi)):
                out[pair.left_id].append(pair)
        for pairs in out.values():
            pairs.sort(key=lambda p: -p.probability)
        return out

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

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The match probability of each pair of indexed record ids (scored as `match` would)."""
        return self._scores(pairs)[0]

    def _scores(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        left = np.fromiter((self.slots[a] for a, _ in pairs), dtype=np.int64, count=len(pairs))
        right = np.fromiter((self.slots[b] for _, b in pairs), dtype=np.int64, count=len(pairs))
        probability = np.empty(len(pairs))
        levels = np.zeros((len(pairs), len(FIELDS)), dtype=np.int64)
        for start in range(0, left.size, CHUNK):
            lo, hi = left[start : start + CHUNK], right[start : start + CHUNK]
            chunk = compare_chunked(self.store, lo, hi)
            weights = self.scorer.weights(self.store, chunk, lo, hi)
            probability[start : start + CHUNK] = probability_of(self.scorer.totals(weights)[0])
            levels[start : start + CHUNK] = chunk
        return probability, levels

    def conflicts(self, groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
        """Clear conflicts inside `groups` (e.g. the connected components of "match" pairs): every pair of
        indexed members of a group of three or more is scored; a clear conflict scores below
        `conflict_probability`, unless that is only two keying slips in the given name (its given names are
        at most two edits apart and birth date, sex and suffix do not conflict): two copies of one person,
        each with a slip, look like twins to the twin guard. Returned as sorted id pairs. Groups larger than
        `max_block_size` are skipped with a warning."""
        limit = self.settings.conflict_probability
        pairs: list[tuple[str, str]] = []
        for group in groups:
            members = sorted(m for m in group if m in self.slots)
            if len(members) < 3 or limit <= 0:
                continue
            if len(members) > self.settings.max_block_size:
                self.warnings.append(f"conflicts not checked in a group of {len(members)} records")
                continue
            pairs.extend((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
        todo = [pair for pair in pairs if pair not in self._scored]
        if todo:
            probability, levels = self._scores(todo)
            for n, pair in enumerate(todo):
                self._scored[pair] = bool(probability[n] < limit) and not self._slips_only(pair, levels[n])
                self._scored_of.setdefault(pair[0], []).append(pair)
                self._scored_of.setdefault(pair[1], []).append(pair)
        return {pair for pair in pairs if self._scored[pair]}

    def _slips_only(self, pair: tuple[str, str], levels: np.ndarray) -> bool:
        if any(levels[k] == level for k, level in PERSON_CONFLICTS):
            return False
        given = self.store.cols["given"][[self.slots[pair[0]], self.slots[pair[1]]]].tolist()
        if min(given) < 0:
            return False
        names = self.store.names.strings
        return within_two_edits(names[given[0]], names[given[1]])

    def clusters(self, pairs: Iterable[ScoredPair]) -> list[set[str]]:
        """Every indexed record in one group: "match" pairs joined most probable first, never across a clear
        conflict (see `conflicts`)."""
        pairs = list(pairs)
        ids = list(self.slots)
        matched = components(((p.left_id, p.right_id) for p in pairs if p.decision == "match"), ids)
        return clusters(pairs, ids, self.conflicts(matched))

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

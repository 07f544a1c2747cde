"""Fellegi–Sunter scoring of compared pairs: weights, household cap, probability, decision, explanation."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.identity.comparisons import FIELD_INDEX, FIELDS, level_index, one_edit
from engine.identity.features import FeatureStore
from engine.identity.settings import MatchSettings

if TYPE_CHECKING:
    from engine.identity.model import MatchModel

HOUSEHOLD = np.array([spec.household for spec in FIELDS])
LOCATION = np.array([spec.location for spec in FIELDS])
IDENTIFIER = FIELD_INDEX["identifier"]
IDENTIFIER_EXACT = level_index("identifier", "exact")
GIVEN = FIELD_INDEX["given"]
SEX = FIELD_INDEX["sex"]
SEX_DIFFERENT = level_index("sex", "different")
GIVEN_EXACT = level_index("given", "exact")
GIVEN_CLOSE = level_index("given", "close")
FAMILY = FIELD_INDEX["family"]
FAMILY_DIFFERENT = level_index("family", "different")
BIRTH = FIELD_INDEX["birth_date"]
BIRTH_EXACT = level_index("birth_date", "exact")
# given-name levels that can still be the same person within a household (a twin's name is none of these)
GIVEN_SAME_PERSON = np.array(
    [level in ("null", "exact", "nickname", "swapped", "partial") for level in FIELDS[GIVEN].levels]
)
SLIP_MIN_LENGTH = 4
_DOUBLED = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class FieldEvidence:
    """One term of a pair's match weight: a field at a level, weighing `weight` bits (log2 Bayes factor).

    Besides the compared fields, "prior" (the log2 prior odds of a match) and, when they apply,
    "household" (the cut made by the household cap) and "location" (the disagreements of the location
    fields beyond the first, given back: one move) are terms too, so the terms sum to the pair's weight.
    """

    field: str
    level: str
    weight: float


@dataclass
class ScoredPair:
    """Two records scored: match probability, total weight (bits), decision and field-by-field evidence."""

    left_id: str
    right_id: str
    probability: float
    weight: float
    decision: str  # "match" | "possible" | "no-match"
    evidence: list[FieldEvidence] = field(default_factory=list)


def probability_of(weight: np.ndarray | float) -> np.ndarray | float:
    """Match probability for a total match weight in bits."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))


class Scorer:
    """Turns comparison levels into weights and decisions under a model and settings."""

    def __init__(self, model: MatchModel, settings: MatchSettings) -> None:
        self.model = model
        self.settings = settings
        self.prior = math.log2(model.lambda_ / (1.0 - model.lambda_))
        self.learned: list[np.ndarray] = []  # log2(m/u) per level
        self.tables: list[np.ndarray] = []  # the same with conflict floors applied
        self.lifted: list[tuple[int, int, float]] = []  # (field, conflict level, learned weight)
        for k, spec in enumerate(FIELDS):
            m, u = np.asarray(model.m[spec.name]), np.asarray(model.u[spec.name])
            learned = np.log2(np.maximum(m, 1e-300) / np.maximum(u, 1e-300))
            learned[0] = 0.0
            table = learned.copy()
            floor = settings.conflict_weights.get(spec.name)
            if spec.conflict is not None and floor is not None:
                level = spec.levels.index(spec.conflict)
                table[level] = min(table[level], floor)
                if spec.name in settings.identifier_lifts_conflicts:
                    self.lifted.append((k, level, float(learned[level])))
            self.learned.append(learned)
            self.tables.append(table)
        self._tf_cache: dict[tuple[int, str], float] = {}

    def weights(
        self, store: FeatureStore, levels: np.ndarray, left: np.ndarray, right: np.ndarray | None = None
    ) -> np.ndarray:
        """Per-field weights (pairs, fields); exact term-frequency levels use the value's frequency.

        With `right` given, the twin guard can tell a keying slip in a given name from another name.
        """
        out = np.empty(levels.shape, dtype=np.float64)
        for k in range(len(FIELDS)):
            out[:, k] = self.tables[k][levels[:, k]]
        if self.lifted:
            vouched = levels[:, IDENTIFIER] == IDENTIFIER_EXACT
            for k, level, learned in self.lifted:
                out[vouched & (levels[:, k] == level), k] = learned
        for k, spec in enumerate(FIELDS):
            column = levels[:, k]
            if spec.term_frequency and self.model.term_frequencies.get(spec.name):
                rows = np.flatnonzero(column == 1)
                if rows.size:
                    ids = store.cols[spec.name][np.asarray(left)[rows]]
                    unique, inverse = np.unique(ids, return_inverse=True)
                    values = np.array([self._tf_weight(k, store.names.strings[i]) for i in unique.tolist()])
                    out[rows, k] = values[inverse]
        if self.settings.twin_guard:
            self._guard_twins(store, levels, out, left, right)
        return out

    def _guard_twins(
        self,
        store: FeatureStore,
        levels: np.ndarray,
        out: np.ndarray,
        left: np.ndarray,
        right: np.ndarray | None,
    ) -> None:
        """Where twins could be, a given name short of the same person's weighs the given conflict floor.

        Twins could be: the pair shares a household (the household cap applies), or a family name and the
        exact birth date. The same person's given name there: exact, nickname, swapped or partial; close or
        one keying slip apart (one edit, same first letter), both names at least SLIP_MIN_LENGTH letters
        (Ronald and Donald, Ken and Kevn are twins' names); the same but for a doubled letter (Ana, Anna);
        and exact when the sexes differ.
        """
        floor = self.settings.conflict_weights.get("given")
        if floor is None:
            return
        _, cut = self.adjustments(out)
        family = levels[:, FAMILY]
        kin = (cut < 0) | ((levels[:, BIRTH] == BIRTH_EXACT) & (family != 0) & (family != FAMILY_DIFFERENT))
        given = levels[:, GIVEN]
        weak = kin & ~GIVEN_SAME_PERSON[given]
        if right is not None and weak.any():
            names = store.cols["given"]
            a, b = names[np.asarray(left)], names[np.asarray(right)]
            codes, _, lengths = store.names.matrices()
            long_enough = np.minimum(lengths[a], lengths[b]) >= SLIP_MIN_LENGTH
            weak &= ~(long_enough & (given == GIVEN_CLOSE))
            slip = weak & long_enough & (codes[a, 0] == codes[b, 0])
            weak &= ~one_edit(store.names, a, b, slip)
            weak &= ~_doubled_letter(store.names.strings, a, b, weak)
        guarded = kin & (weak | ((levels[:, SEX] == SEX_DIFFERENT) & (given != GIVEN_EXACT)))
        if "given" in self.settings.identifier_lifts_conflicts:
            guarded &= levels[:, IDENTIFIER] != IDENTIFIER_EXACT
        out[guarded, GIVEN] = np.minimum(out[guarded, GIVEN], floor)

    def _tf_weight(self, k: int, value: str) -> float:
        key = (k, value)
        found = self._tf_cache.get(key)
        if found is None:
            spec = FIELDS[k]
            frequency = self.model.term_frequency(spec.name, value)
            u = max(frequency, self.settings.tf_minimum_u)
            found = self._tf_cache[key] = math.log2(self.model.m[spec.name][1] / u)
        return found

    def plain_weights(self, levels: np.ndarray) -> np.ndarray:
        """Total weights from the learned tables alone: no floors, cap or term frequency (for estimation)."""
        total = np.full(levels.shape[0], self.prior)
        for k in range(len(FIELDS)):
            total += self.learned[k][levels[:, k]]
        return total

    def adjustments(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(location relief (>= 0), household cut (<= 0)) per pair.

        The relief gives back the location disagreements beyond the most negative one (`location_once`);
        the cut caps what is left of the household fields' sum at `household_cap`.
        """
        relief = np.zeros(weights.shape[0])
        if self.settings.location_once:
            against = np.minimum(weights[:, LOCATION], 0.0)
            relief = against.min(axis=1) - against.sum(axis=1)
        household = weights[:, HOUSEHOLD].sum(axis=1) + relief
        cut = np.minimum(0.0, self.settings.household_cap - household)
        return relief, cut

    def totals(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(total weight, household cut (<= 0), number of agreeing fields) per pair; the total includes the
        location relief (see `adjustments`)."""
        relief, cut = self.adjustments(weights)
        total = self.prior + weights.sum(axis=1) + relief + cut
        agreeing = (weights > 0).sum(axis=1)
        return total, cut, agreeing

    def decisions(self, probability: np.ndarray, agreeing: np.ndarray) -> np.ndarray:
        """'match' / 'possible' / 'no-match' for each pair."""
        s = self.settings
        match = (probability >= s.match_probability) & (agreeing >= s.min_agreeing_fields)
        return np.where(match, "match", np.where(probability >= s.review_probability, "possible", "no-match"))

    def scored_pairs(
        self,
        store: FeatureStore,
        ids: Sequence[str | None] | Mapping[int, str | None],
        left: np.ndarray,
        right: np.ndarray,
        levels: np.ndarray,
        *,
        min_probability: float = 0.0,
    ) -> list[ScoredPair]:
        """ScoredPairs (with evidence) for the pairs whose probability is at least `min_probability`.

        `ids` gives the record id of a slot (a list by slot, or a mapping of the slots involved).
        """
        weights = self.weights(store, levels, left, right)
        total, cut, agreeing = self.totals(weights)
        relief, _ = self.adjustments(weights)
        probability = probability_of(total)
        keep = np.flatnonzero(probability >= min_probability)
        decisions = self.decisions(probability[keep], agreeing[keep])
        names = [spec.name for spec in FIELDS]
        level_names = [spec.levels for spec in FIELDS]
        out: list[ScoredPair] = []
        level_rows = levels[keep].tolist()
        weight_rows = weights[keep].tolist()
        for n, row in enumerate(keep.tolist()):
            evidence = [FieldEvidence("prior", "lambda", self.prior)]
            evidence.extend(
                FieldEvidence(names[k], level_names[k][lv], w)
                for k, (lv, w) in enumerate(zip(level_rows[n], weight_rows[n]))
            )
            if relief[row] > 0:
                evidence.append(FieldEvidence("location", "moved", float(relief[row])))
            if cut[row] < 0:
                evidence.append(FieldEvidence("household", "cap", float(cut[row])))
            out.append(
                ScoredPair(
                    ids[int(left[row])] or "",
                    ids[int(right[row])] or "",
                    float(probability[row]),
                    float(total[row]),
                    str(decisions[n]),
                    evidence,
                )
            )
        return out


def _doubled_letter(strings: list[str], a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Where mask[i]: whether names a[i], b[i] differ only in letters written once or twice (ana, anna)."""
    out = np.zeros(a.size, dtype=bool)
    rows = np.flatnonzero(mask & (a >= 0) & (b >= 0))
    if rows.size == 0:
        return out
    ids = np.unique(np.concatenate([a[rows], b[rows]]))
    collapsed: dict[str, int] = {}
    codes = {int(i): collapsed.setdefault(_DOUBLED.sub(r"\1", strings[int(i)]), len(collapsed)) for i in ids}
    lookup = np.vectorize(codes.__getitem__, otypes=[np.int64])
    out[rows] = lookup(a[rows]) == lookup(b[rows])
    return out


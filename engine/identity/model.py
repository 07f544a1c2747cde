"""The match model: m/u per field level, the prior match rate, name frequencies; training and scoring."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.identity.blocking import (
    HOUSEHOLD_PARTS,
    PART_FIELDS,
    BlockIndex,
    record_keys,
    rule_name,
    union_pairs,
)
from engine.identity.comparisons import FIELD_INDEX, FIELDS, compare
from engine.identity.features import Normalised, build_store, normalise
from engine.identity.records import PersonRecord
from engine.identity.scoring import ScoredPair, Scorer, probability_of
from engine.identity.settings import MatchSettings
from engine.identity.training import (
    compare_chunked,
    date_u,
    fit_m,
    match_rate,
    random_pairs,
    session,
    u_from_random_pairs,
)

FORMAT = "tessera.identity.model/1"
MAX_EM_PAIRS = 500_000


def _priors(which: str) -> dict[str, list[float]]:
    return {spec.name: [float(x) for x in getattr(spec, which)] for spec in FIELDS}


class _InstanceOrClass:
    """Lets `train` be called on the class (starting from default priors) or on a model instance."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        functools.update_wrapper(self, function)

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        return functools.partial(self.function, instance if instance is not None else owner())


@dataclass
class MatchModel:
    """Fellegi–Sunter parameters: m and u per level of each field, prior match probability, name frequencies.

    `m[field][k]` / `u[field][k]` follow the order of that field's levels (see comparisons.FIELDS);
    index 0 is the null level and is never used. `lambda_` is the probability that two records drawn at
    random are the same person. `term_frequencies[field][value]` is the share of records with that value,
    kept only for values seen at least `settings.tf_min_count` times; `rare_frequency` stands for the rest.
    """

    m: dict[str, list[float]] = field(default_factory=lambda: _priors("m"))
    u: dict[str, list[float]] = field(default_factory=lambda: _priors("u"))
    lambda_: float = 1e-4
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    rare_frequency: dict[str, float] = field(default_factory=dict)
    settings: MatchSettings = field(default_factory=MatchSettings)
    training: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        for spec in FIELDS:
            self.m.setdefault(spec.name, [float(x) for x in spec.m])
            self.u.setdefault(spec.name, [float(x) for x in spec.u])
            if not len(self.m[spec.name]) == len(self.u[spec.name]) == len(spec.levels):
                raise ValueError(f"{spec.name}: expected {len(spec.levels)} levels")
        if not 0.0 < self.lambda_ < 1.0:
            raise ValueError("lambda_ must be in (0, 1)")

    def term_frequency(self, field_name: str, value: str) -> float:
        """Share of records whose `field_name` is `value` (the rare-value share when not in the table)."""
        table = self.term_frequencies.get(field_name, {})
        return table.get(value, self.rare_frequency.get(field_name, 0.0))

    @_InstanceOrClass
    def train(
        self,
        records: Iterable[PersonRecord],
        *,
        max_iterations: int = 60,
        random_pairs: int = 200_000,
        settings: MatchSettings | None = None,
        seed: int = 0,
        max_pairs: int = MAX_EM_PAIRS,
        normalised: Sequence[Normalised] | None = None,
    ) -> MatchModel:
        """A model fitted to `records`: u from random pairs, m and the match rate by EM on blocked pairs.

        Callable as `MatchModel.train(records)` (default priors and settings) or on a model, whose
        m/u start EM and whose settings are used unless `settings` is given. `normalised`: the records'
        `normalise` output, when the caller computed it already (same order).
        """
        settings = settings or self.settings
        rng = np.random.default_rng(seed)
        items = list(normalised) if normalised is not None else [normalise(r) for r in records]
        store, slots = build_store(items)
        sources = store.cols["source"][slots]
        warnings: list[str] = []
        # candidate pairs per blocking rule, as linking will see them
        blocks = BlockIndex(settings.blocking_rules)
        for item, slot in zip(items, slots.tolist()):
            blocks.add(slot, record_keys(item, settings.blocking_rules))
        per_rule, block_warnings = blocks.rule_pairs(settings.max_block_size)
        warnings.extend(block_warnings)
        if not settings.link_within_source:
            column = store.cols["source"]
            per_rule = [(lo[column[lo] != column[hi]], hi[column[lo] != column[hi]]) for lo, hi in per_rule]
        left, right = union_pairs(per_rule)
        candidate_pairs = int(left.size)
        sampled = 1.0
        if left.size > max_pairs:
            pick = np.sort(rng.choice(left.size, max_pairs, replace=False))
            left, right = left[pick], right[pick]
            sampled = max_pairs / candidate_pairs
        levels = compare_chunked(store, left, right)
        span = int(store.size) + 1
        union_keys = left * span + right
        sessions = []
        for rule, (lo, hi) in zip(settings.blocking_rules, per_rule):
            at = _present(union_keys, lo * span + hi)
            sessions.append(session(rule_name(rule), levels[at], blocked_fields(rule)))
        # u from random pairs
        r_left, r_right = _random_pairs(sources, random_pairs, settings.link_within_source, rng)
        random_levels = compare_chunked(store, slots[r_left], slots[r_right])
        u_random = u_from_random_pairs(random_levels)
        u = [
            np.asarray(found if found is not None else self.u[spec.name], dtype=np.float64)
            for spec, found in zip(FIELDS, u_random)
        ]
        birth = FIELD_INDEX["birth_date"]
        dates = (store.cols["birth_y"][slots], store.cols["birth_m"][slots], store.cols["birth_d"][slots])
        u[birth] = date_u(*dates, u[birth])
        m_start = [np.asarray(self.m[spec.name], dtype=np.float64) for spec in FIELDS]
        result = fit_m(sessions, m_start, u, max_iterations=max_iterations)
        if not result.converged:
            warnings.append(f"EM did not converge in {max_iterations} iterations")
        frequencies, rare = _term_frequencies(items, settings.tf_min_count)
        model = MatchModel(
            m={spec.name: result.m[k].round(10).tolist() for k, spec in enumerate(FIELDS)},
            u={spec.name: u[k].round(12).tolist() for k, spec in enumerate(FIELDS)},
            term_frequencies=frequencies,
            rare_frequency=rare,
            settings=settings,
            warnings=warnings,
        )
        # The prior: how many of all pairs match, judged by the candidates' Bayes factors as scoring sees
        # them. Random pairs hold a few matches, which inflate u where matches agree (exact birth dates,
        # identifiers); u is then re-estimated with each random pair weighted by its probability of being
        # a non-match under the plain model (floors and cap are decision policy, not estimates), and λ
        # estimated again.
        total_pairs = _total_pairs(sources, settings.link_within_source)
        if candidate_pairs:
            for step in range(3):
                scorer = Scorer(model, settings)
                total, _, _ = scorer.totals(scorer.weights(store, levels, left, right))
                model.lambda_ = match_rate(total - scorer.prior, total_pairs * sampled)
                if step == 2:
                    break
                non_match = 1.0 - probability_of(Scorer(model, settings).plain_weights(random_levels))
                for k, found in enumerate(u_from_random_pairs(random_levels, weights=non_match)):
                    if found is not None:
                        found = date_u(*dates, found) if k == birth else found
                        model.u[FIELDS[k].name] = found.round(12).tolist()
        else:
            model.lambda_ = self.lambda_
            warnings.append("no candidate pairs: the prior match probability was not estimated")
        model.training = {
            "records": len(items),
            "candidate_pairs": candidate_pairs,
            "em_pairs": int(left.size),
            "random_pairs": int(r_left.size),
            "em_iterations": result.iterations,
            "em_converged": result.converged,
            "expected_matches": round(model.lambda_ * total_pairs, 1),
            "session_match_shares": {s.name: round(s.share, 6) for s in sessions},
        }
        return model

    def score(self, left: PersonRecord, right: PersonRecord) -> ScoredPair:
        """Score one pair of records with this model and its settings."""
        store, slots = build_store([normalise(left), normalise(right)])
        levels = compare(store, slots[:1], slots[1:])
        ids = [left.record_id, right.record_id]
        return Scorer(self, self.settings).scored_pairs(store, ids, slots[:1], slots[1:], levels)[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the model (settings included)."""
        return {
            "format": FORMAT,
            "lambda": self.lambda_,
            "fields": {
                spec.name: {
                    level: {"m": self.m[spec.name][k], "u": self.u[spec.name][k]}
                    for k, level in enumerate(spec.levels)
                    if k
                }
                for spec in FIELDS
            },
            "term_frequencies": self.term_frequencies,
            "rare_frequency": self.rare_frequency,
            "settings": self.settings.to_dict(),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        """The model `to_dict` wrote; fields or levels it lacks take the default priors."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        m, u = _priors("m"), _priors("u")
        for spec in FIELDS:
            stored = data.get("fields", {}).get(spec.name, {})
            for k, level in enumerate(spec.levels):
                if k and level in stored:
                    m[spec.name][k] = float(stored[level]["m"])
                    u[spec.name][k] = float(stored[level]["u"])
        return cls(
            m=m,
            u=u,
            lambda_=float(data["lambda"]),
            term_frequencies={
                f: {str(k): float(v) for k, v in t.items()}
                for f, t in data.get("term_frequencies", {}).items()
            },
            rare_frequency={f: float(v) for f, v in data.get("rare_frequency", {}).items()},
            settings=MatchSettings.from_dict(data.get("settings", {})),
            training=dict(data.get("training", {})),
        )

    def weight_table(self) -> dict[str, dict[str, float]]:
        """Weight (bits) of every level of every field under the model's settings, before term frequency."""
        scorer = Scorer(self, self.settings)
        return {
            spec.name: {level: float(scorer.tables[k][i]) for i, level in enumerate(spec.levels)}
            for k, spec in enumerate(FIELDS)
        }


def blocked_fields(rule: tuple[str, ...]) -> list[int]:
    """Fields EM must not learn from a rule's pairs: those its key parts derive from, and every household
    field when a part is one people living together share (non-matches in such blocks agree there too)."""
    names = {PART_FIELDS[part] for part in rule}
    if HOUSEHOLD_PARTS.intersection(rule):
        names.update(spec.name for spec in FIELDS if spec.household)
    return sorted(FIELD_INDEX[name] for name in names)


def _random_pairs(
    sources: np.ndarray, count: int, within: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    return random_pairs(sources, count, within_source=within, rng=rng)


def _present(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in sorted `keys` of the `wanted` values that are there."""
    at = np.searchsorted(keys, wanted)
    inside = at < keys.size
    at, wanted = at[inside], wanted[inside]
    return at[keys[at] == wanted]


def _total_pairs(sources: np.ndarray, within_source: bool) -> float:
    n = float(sources.size)
    everything = max(n * (n - 1) / 2, 0.0)
    if within_source:
        return everything
    sizes = np.bincount(sources).astype(np.float64)
    return everything - float((sizes * (sizes - 1) / 2).sum())


def _term_frequencies(items: list, min_count: int) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    frequencies: dict[str, dict[str, float]] = {}
    rare: dict[str, float] = {}
    for spec in FIELDS:
        if not spec.term_frequency:
            continue
        counts = Counter(getattr(item, spec.name) for item in items if getattr(item, spec.name))
        total = sum(counts.values())
        if not total:
            continue
        frequencies[spec.name] = {
            value: round(count / total, 8) for value, count in counts.most_common() if count >= min_count
        }
        rare[spec.name] = 1.5 / total
    return frequencies, rare

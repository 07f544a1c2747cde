"""The identity repository port: match pairs, links to golden records, golden records, the trained model."""
from __future__ import annotations

import abc
import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.store.model import StoredResource
from engine.store.ports import UnitOfWork

GOLDEN_TAG = {"system": "urn:tessera:mdm", "code": "GOLDEN_RECORD", "display": "Golden record"}
MDM_SOURCE = "urn:tessera:mdm"  # meta.source of every golden Patient


def is_golden(body: dict[str, Any] | None) -> bool:
    """True for a golden-record Patient (never matched as a source record)."""
    tags = ((body or {}).get("meta") or {}).get("tag") or []
    return any(isinstance(t, dict) and t.get("code") == GOLDEN_TAG["code"] and t.get("system") == GOLDEN_TAG["system"]
               for t in tags)


def pair_key(left: str, right: str) -> tuple[str, str, str]:
    """(pair id, smaller id, larger id) of an unordered pair of patient ids."""
    a, b = sorted((left, right))
    return hashlib.sha1(f"{a}|{b}".encode()).hexdigest()[:20], a, b


@dataclass
class Pair:
    """Two source Patients scored by the matcher, and any manual decision about them (which wins forever)."""

    pair_id: str
    left_id: str
    right_id: str
    probability: float | None = None
    decision: str | None = None  # automatic: "match" | "possible" | "no-match"; None when never scored
    explanation: dict[str, Any] = field(default_factory=dict)
    manual: str | None = None  # "match" | "no-match" when a person (or an HL7 merge) decided
    actor: str | None = None
    reason: str | None = None
    updated_us: int = 0

    @property
    def effective(self) -> str:
        """The decision in force: the manual one when there is one, else the automatic one."""
        return self.manual or self.decision or "no-match"

    def other(self, patient_id: str) -> str:
        """The pair's other member."""
        return self.right_id if patient_id == self.left_id else self.left_id


@dataclass
class Link:
    """A source Patient's membership of one golden record, with the evidence that put it there."""

    patient_id: str
    golden_id: str
    institution: str | None = None
    probability: float | None = None
    decision: str = "singleton"  # "singleton" | "match" | "manual"
    explanation: dict[str, Any] = field(default_factory=dict)
    manual: bool = False
    actor: str | None = None
    reason: str | None = None
    updated_us: int = 0


class IdentityRepository(abc.ABC):
    """Durable identity state; every method is its own transaction unless stated."""

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Within the block, the reads of this thread may share one database connection (each still sees
        what committed before it, writes included); the default shares nothing."""
        yield

    @abc.abstractmethod
    def latest_change(self) -> int:
        """The newest change sequence number of the resource store (0 when empty)."""

    @abc.abstractmethod
    def changes(self, after_seq: int, limit: int) -> list[tuple[int, str, str, int]]:
        """(seq, type, id, version) of every change after `after_seq`, oldest first."""

    @abc.abstractmethod
    def changes_at(self, seqs: list[int]) -> list[tuple[int, str, str, int]]:
        """(seq, type, id, version) of the changes with these numbers that exist, oldest first."""

    @abc.abstractmethod
    def institutions(self, patient_ids: list[str]) -> dict[str, str | None]:
        """The owning institution of each Patient."""

    @abc.abstractmethod
    def patients_page(self, after: int, limit: int) -> list[tuple[int, StoredResource, str | None]]:
        """(cursor, current version, institution) of up to `limit` current source Patients (golden ones left
        out) after the cursor `after` (0 to start), in cursor order."""

    @abc.abstractmethod
    def all_pairs(self) -> list[Pair]:
        """Every stored pair."""

    @abc.abstractmethod
    def pairs_touching(self, patient_ids: set[str]) -> list[Pair]:
        """Stored pairs with at least one member in `patient_ids`."""

    @abc.abstractmethod
    def pair(self, pair_id: str) -> Pair | None:
        """One stored pair."""

    @abc.abstractmethod
    def replace_auto_pairs(self, patient_ids: Sequence[str], pairs: list[Pair]) -> None:
        """Make `pairs` the automatic pairs touching `patient_ids` (one transaction); manual decisions on any
        pair are kept."""

    @abc.abstractmethod
    def replace_all_auto_pairs(self, pairs: list[Pair]) -> None:
        """Batch linking: every automatic score replaced by `pairs`; manual decisions are kept."""

    @abc.abstractmethod
    def set_manual(self, pair: Pair) -> None:
        """Store a manual decision (with actor, reason and time) on a pair, creating it when new."""

    @abc.abstractmethod
    def review_queue(self, limit: int) -> list[Pair]:
        """Pairs decided "possible" that no one has decided yet, most probable first."""

    @abc.abstractmethod
    def links(self, patient_ids: list[str] | None = None) -> dict[str, Link]:
        """Links of the given Patients (all when None)."""

    @abc.abstractmethod
    def members(self, golden_ids: list[str]) -> dict[str, list[str]]:
        """Member patient ids of each golden record."""

    @abc.abstractmethod
    def golden_page(self, offset: int, limit: int) -> list[str]:
        """Golden record ids (those with members) in a stable order."""

    @abc.abstractmethod
    def goldens_among(self, ids: list[str]) -> set[str]:
        """Those of `ids` that are golden record ids (have members)."""

    @abc.abstractmethod
    def goldens_not_stored(self) -> list[str]:
        """Golden ids that have members but no current golden Patient in the resource store."""

    @abc.abstractmethod
    def consent_rules(self, patient_ids: list[str]) -> dict[str, set[tuple[str, str, str]]]:
        """The sharing rules (grantee, category, decision) of each Patient that has some."""

    @abc.abstractmethod
    def sensitivity(self, patient_ids: list[str]) -> dict[str, str | None]:
        """The sensitive-information label of each Patient (None when unlabelled)."""

    @abc.abstractmethod
    def write_clusters(self, uow: UnitOfWork, links: list[Link], removed: set[str]) -> None:
        """Inside `uow` (with the golden Patients written there, committed together): upsert links, delete
        the links of removed patients."""

    @abc.abstractmethod
    def record_event(self, kind: str, detail: dict[str, Any], actor: str | None, reason: str | None,
                     now_us: int) -> None:
        """Append to the identity decision log (merges, unmerges, reviews, batch runs)."""

    @abc.abstractmethod
    def save_model(self, model: dict[str, Any], now_us: int) -> None:
        """Store the trained match model (JSON)."""

    @abc.abstractmethod
    def load_model(self) -> dict[str, Any] | None:
        """The stored match model, if any."""

    @abc.abstractmethod
    def model_stamp(self) -> int | None:
        """When the stored model was saved (microseconds), without reading it; None when there is none."""

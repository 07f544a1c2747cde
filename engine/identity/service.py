"""Identity service: keeps every source Patient in exactly one golden record, inline and in batch.

Inline: `sync()` runs after every committed Patient write (the store calls it) and re-matches the Patients
changed since its cursor. Batch: `link_all()` (re)trains the model, scores every candidate pair and
rebuilds every golden record. Manual decisions (links, unlinks, reviews, HL7 merges) win over automatic ones.
Golden records are stored as Patients (tagged golden, owned by no institution) in the same transaction as the
link rows; a model saved by another process is picked up before the next match.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from engine.errors import InvalidRequest, ResourceNotFound, VersionConflict
from engine.fhir.references import parse_reference
from engine.identity.access import Member, golden_rules
from engine.identity.change_feed import ChangeFeed
from engine.identity.golden import assign_golden_ids, cluster, golden_patient, match_components, member_links
from engine.identity.golden_writes import golden_writes
from engine.identity.features import normalise
from engine.identity.index import MatchIndex
from engine.identity.model import MatchModel
from engine.identity.ports import IdentityRepository, Pair, is_golden, pair_key
from engine.identity.records import PersonRecord, person_from_patient
from engine.identity.scoring import ScoredPair
from engine.identity.settings import MatchSettings
from engine.identity.survivorship import SurvivorshipPolicy
from engine.store.model import StoredResource
from engine.store.ports import ResourceStore, UnitOfWork

MERGE_ACTOR = "hl7v2-merge"
MIN_TRAINING_RECORDS = 500
WRITE_ATTEMPTS = 3
READ_CHUNK = 500
# what batch linking read already: every pair, the current source Patients and their institutions
Loaded = tuple[list[Pair], dict[str, StoredResource], dict[str, str | None]]
PAGE = 2000
CHANGES_PAGE = 1000


def explanation(pair: ScoredPair) -> dict[str, Any]:
    """A JSON explanation of a scored pair: probability, weight (bits) and the evidence per field."""
    return {"probability": round(pair.probability, 6), "weight": round(pair.weight, 3),
            "evidence": [{"field": e.field, "level": e.level, "weight": round(e.weight, 3)} for e in pair.evidence]}


class IdentityService:
    """Matching, golden records and manual decisions over a resource store and an identity repository."""

    def __init__(self, store: ResourceStore, repo: IdentityRepository, clock: Callable[[], int],
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4()), *,
                 survivorship: SurvivorshipPolicy | None = None, consent_default: str = "opt-out",
                 golden_unit_of_work: Callable[[], UnitOfWork] | None = None,
                 match_settings: MatchSettings | None = None):
        self.store = store
        self.repo = repo
        self.clock = clock
        self.new_id = new_id
        self.survivorship = survivorship or SurvivorshipPolicy()
        self.match_settings = match_settings  # used when training; a trained model keeps its own
        self.consent_default = consent_default
        self.golden_unit_of_work = golden_unit_of_work or (lambda: store.unit_of_work())
        self.lock = threading.RLock()
        self.index: MatchIndex | None = None
        self.model_stamp: int | None = None  # when the model the index uses was saved
        self.feed = ChangeFeed(repo)  # where sync() continues in the store's change log

    # -- loading -------------------------------------------------------------------------------------------
    def patients(self) -> Iterator[tuple[StoredResource, str | None]]:
        """Every current source Patient with its institution (unrestricted; internal use)."""
        cursor = 0
        while page := self.repo.patients_page(cursor, PAGE):
            yield from ((stored, institution) for _, stored, institution in page if not is_golden(stored.body))
            cursor = page[-1][0]

    def _read_patients(self, ids: list[str]) -> dict[str, StoredResource]:
        """The current versions of the Patients `ids` that exist (read in chunks)."""
        found: dict[str, StoredResource] = {}
        with self.store.unit_of_work(read_only=True) as uow:
            for start in range(0, len(ids), READ_CHUNK):
                chunk = ids[start:start + READ_CHUNK]
                found.update((s.resource_id, s) for s in uow.read_many(("Patient", i) for i in chunk))
        return found

    def _records(self, stored: list[StoredResource],
                 institutions: dict[str, str | None] | None = None) -> list[PersonRecord]:
        if institutions is None:
            institutions = self.repo.institutions([s.resource_id for s in stored])
        return [person_from_patient(s.body or {}, source=institutions.get(s.resource_id) or "") for s in stored]

    def model(self) -> MatchModel:
        """The stored trained model, or the default priors when none was trained yet."""
        data = self.repo.load_model()
        return MatchModel.from_dict(data) if data else MatchModel()

    def _indexed(self) -> tuple[MatchIndex, list[StoredResource]]:
        """A fresh index of every current Patient under the stored model (its stamp remembered)."""
        stamp = self.repo.model_stamp()  # read first: a model saved meanwhile is newer than this stamp
        index = MatchIndex(self.model())
        loaded = list(self.patients())
        stored = [s for s, _ in loaded]
        for record in self._records(stored, {s.resource_id: i for s, i in loaded}):
            index.add(record)
        self.model_stamp = stamp
        return index, stored

    def _ensure_index(self) -> int:
        """Build the index on first use (matching what changed unseen) or reload a newer model; how many
        Patients were matched."""
        if self.index is not None:
            if self.repo.model_stamp() != self.model_stamp:  # retrained elsewhere (`tessera link --retrain`)
                self.index, _ = self._indexed()
            return 0
        cursor = self.repo.latest_change()
        index, stored = self._indexed()
        self.index = index
        self.feed.reset(cursor)
        known = set(self.repo.links())
        present = {s.resource_id for s in stored}
        todo = sorted((present - known) | (known - present))
        processed = self._process(todo) if todo else 0
        missing = self.repo.goldens_not_stored()
        if missing:  # golden records from before they were stored as Patients
            members = self.repo.members(missing)
            self._recluster(set().union(*members.values()), set())
        return processed

    # -- inline --------------------------------------------------------------------------------------------
    def sync(self) -> int:
        """Re-match every Patient changed since the last call (and refresh who may read the golden records
        of Patients whose Consents changed); the number of Patients processed."""
        with self.lock, self.repo.reading():
            processed = self._ensure_index()
            mark = self.feed.mark()
            try:
                changed: list[str] = []
                consents: list[tuple[str, int]] = []
                for _, kind, resource_id, version in self.feed.read(CHANGES_PAGE, ("Patient", "Consent")):
                    if kind == "Patient":
                        changed.append(resource_id)
                    else:
                        consents.append((resource_id, version))
                ids = list(dict.fromkeys(changed))
                if ids:
                    processed += self._process(ids)
                if consents:
                    self._consents_changed(consents)
            except Exception:
                self.feed.rewind(mark)  # e.g. a concurrent matcher's write won: the next sync reads them again
                raise
            return processed

    def _consents_changed(self, consents: list[tuple[str, int]]) -> None:
        patients = set()
        with self.store.unit_of_work(read_only=True) as uow:
            for consent_id, version in consents:
                stored = uow.read("Consent", consent_id, version)
                if stored is not None and stored.body is None and version > 1:  # deleted: its last content
                    stored = uow.read("Consent", consent_id, version - 1)
                reference = ((stored.body if stored else None) or {}).get("patient", {}).get("reference")
                parsed = parse_reference(reference) if isinstance(reference, str) else None
                if parsed is not None and parsed.resource_type == "Patient":
                    patients.add(parsed.resource_id)
        linked = self.repo.links(sorted(patients))
        if linked:
            self._recluster(set(linked), set())

    def _process(self, ids: list[str]) -> int:
        """Re-match the source Patients among `ids` (golden Patients are skipped); how many."""
        assert self.index is not None
        goldens = self.repo.goldens_among(ids)  # e.g. the golden Patients a batch wrote: skipped unread
        ids = [pid for pid in ids if pid not in goldens]
        stored = self._read_patients(ids)
        goldens = {pid for pid, s in stored.items() if is_golden(s.body)}
        absent = [pid for pid in ids if pid not in stored]
        linked = set(self.repo.links(absent)) if absent else set()
        ids = [pid for pid in ids if pid not in goldens and (pid in stored or pid in linked or pid in self.index)]
        for pid in goldens:
            del stored[pid]
        if not ids:
            return 0
        institutions = self.repo.institutions(list(stored))
        records = {r.record_id: r for r in self._records(list(stored.values()), institutions)}
        removed = set()
        for pid in ids:
            if pid in records:
                self.index.add(records[pid])
            else:
                self.index.remove(pid)
                removed.add(pid)
        affected = set(ids)
        review = self.index.settings.review_probability
        pairs: list[Pair] = []
        for pid, matched in self.index.match_indexed([pid for pid in ids if pid in records]).items():
            scored = [p for p in matched if p.probability >= review]
            pairs.extend(Pair(*pair_key(pid, p.right_id), probability=p.probability, decision=p.decision,
                              explanation=explanation(p), updated_us=self.clock()) for p in scored)
            affected.update(p.right_id for p in scored)
        self.repo.replace_auto_pairs(ids, pairs)
        for pid in ids:
            if pid in records:
                affected.update(self._merge_links(pid, stored[pid].body or {}))
        self._recluster(affected, removed, (stored, institutions))
        return len(ids)

    def _merge_links(self, pid: str, body: dict[str, Any]) -> set[str]:
        """An HL7 merge (Patient.link replaced-by / replaces) is a manual-grade match, unless a person decided."""
        others = set()
        for link in body.get("link") or []:
            reference = ((link or {}).get("other") or {}).get("reference") or ""
            if link.get("type") in ("replaced-by", "replaces") and reference.startswith("Patient/"):
                others.add(reference.split("/", 1)[1])
        if not others:
            return set()
        existing = {p.pair_id: p for p in self.repo.pairs_touching({pid})}
        for other in others:
            key = pair_key(pid, other)
            if key[0] in existing and existing[key[0]].manual is not None:
                continue
            self.repo.set_manual(Pair(*key, manual="match", actor=MERGE_ACTOR, reason="HL7 ADT merge",
                                      updated_us=self.clock()))
            self.repo.record_event("merge", {"patients": [f"Patient/{pid}", f"Patient/{other}"]}, MERGE_ACTOR,
                                   "HL7 ADT merge", self.clock())
        return others

    def _recluster(self, affected: set[str], removed: set[str],
                   read: tuple[dict[str, StoredResource], dict[str, str | None]] | None = None) -> None:
        """Cluster again the Patients `affected` and the members of their golden records; `read` holds the
        current versions and institutions of some of them, read just before."""
        assert self.index is not None
        current_links = self.repo.links(sorted(affected))
        golden_ids = {link.golden_id for link in current_links.values()}
        members = self.repo.members(sorted(golden_ids))
        everyone = set(affected).union(*members.values()) if members else set(affected)
        nodes = {n for n in everyone if n in self.index}
        removed = (removed | everyone) - nodes
        self._write(nodes, removed, golden_ids, read=read)

    def _write(self, nodes: set[str], removed: set[str], old_goldens: set[str], loaded: Loaded | None = None,
               read: tuple[dict[str, StoredResource], dict[str, str | None]] | None = None) -> int:
        """Cluster `nodes`, then store their links and golden Patients (with who may read them) atomically;
        retried when a concurrent writer changed the same golden Patient. `loaded` (batch) carries what was
        read already: every pair, and the nodes' current versions and institutions; `read` (inline) the
        versions and institutions of some nodes. The number of groups."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                if attempt == 0 and loaded is None and read is not None:
                    loaded = self._load(nodes, *read)
                return self._write_once(nodes, removed, old_goldens, loaded if attempt == 0 else None)
            except VersionConflict:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        return 0  # unreachable

    def _load(self, nodes: set[str], stored: dict[str, StoredResource],
              institutions: dict[str, str | None]) -> Loaded:
        """What `_write_once` reads about `nodes`, reading only what `stored` and `institutions` lack."""
        missing = sorted(n for n in nodes if n not in stored or n not in institutions)
        stored = {n: stored[n] for n in nodes if n in stored}
        institutions = {n: institutions[n] for n in nodes if n in institutions}
        if missing:
            stored.update(self._read_patients(missing))
            institutions.update(self.repo.institutions(missing))
        return self.repo.pairs_touching(nodes), stored, institutions

    def _write_once(self, nodes: set[str], removed: set[str], old_goldens: set[str], loaded: Loaded | None) -> int:
        if loaded is None:
            touching = self.repo.pairs_touching(nodes)
            stored, institutions = self._read_patients(sorted(nodes)), self.repo.institutions(sorted(nodes))
        else:
            touching, stored, institutions = loaded
        pairs = [p for p in touching if p.left_id in nodes and p.right_id in nodes]
        current = {pid: link.golden_id for pid, link in self.repo.links(sorted(nodes)).items()}
        groups = cluster(nodes, pairs, self.index.conflicts(match_components(nodes, pairs)) if self.index else ())
        golden_of = assign_golden_ids(groups, current, self.new_id)
        goldens = {golden_of[min(g)]: golden_patient(golden_of[min(g)], [stored[m] for m in sorted(g) if m in stored],
                                                      self.survivorship, institutions) for g in groups}
        retired = (old_goldens | set(current.values())) - set(goldens)
        # the members' sharing rules and the golden records' stored ones, in one read before the write lock
        stored_rules = self.repo.consent_rules(sorted(nodes | set(goldens) | retired))
        access = self._access({golden_of[min(g)]: sorted(g) for g in groups}, institutions, stored_rules)
        now = self.clock()
        links = member_links(groups, golden_of, pairs, institutions, now)
        with self.golden_unit_of_work() as uow:
            uow.lock_key("identity:golden-records")  # writers in other processes wait (no half-merged clusters)
            uow.save(golden_writes(uow, goldens, retired, now, fresh=set(goldens) - set(current.values())))
            for golden_id in sorted(set(goldens) | retired):
                wanted = access.get(golden_id, set())
                if stored_rules.get(golden_id, set()) != wanted:
                    uow.replace_consent_rules(golden_id, wanted)
            self.repo.write_clusters(uow, links, removed)
            uow.commit()
        return len(groups)

    def _access(self, groups: dict[str, list[str]], institutions: dict[str, str | None],
                rules: dict[str, set[tuple[str, str, str]]]) -> dict[str, set]:
        """Sharing rules of each golden Patient: readable by the institutions that may see all its members
        (`rules`: the members' own sharing rules)."""
        everyone = sorted({m for members in groups.values() for m in members})
        labels = self.repo.sensitivity(everyone)
        return {golden_id: golden_rules({m: Member(institutions.get(m), labels.get(m), frozenset(rules.get(m, ())))
                                         for m in members}, self.consent_default)
                for golden_id, members in groups.items()}

    # -- batch ---------------------------------------------------------------------------------------------
    def link_all(self, *, retrain: bool = False) -> dict[str, Any]:
        """Batch: (re)train when asked (or when no model is stored and there is enough data), score every
        candidate pair and rebuild every golden record. Returns counts and timings."""
        with self.lock:
            started = time.perf_counter()
            cursor = self.repo.latest_change()
            loaded = list(self.patients())
            stored = [s for s, _ in loaded]
            institutions = {s.resource_id: institution for s, institution in loaded}
            records = self._records(stored, institutions)
            normalised = [normalise(r) for r in records]
            trained = False
            stamp = self.repo.model_stamp()
            if retrain or (stamp is None and len(records) >= MIN_TRAINING_RECORDS):
                model = MatchModel.train(records, settings=self.match_settings, normalised=normalised)
                self.repo.save_model(model.to_dict(), self.clock())
                stamp = self.repo.model_stamp()
                trained = True
            else:
                model = self.model()
            self.model_stamp = stamp
            index = MatchIndex(model)
            for record, item in zip(records, normalised):
                index.add(record, normalised=item)
            scored = index.link_all()
            now = self.clock()
            pairs = [Pair(*pair_key(p.left_id, p.right_id), probability=p.probability, decision=p.decision,
                          explanation=explanation(p), updated_us=now) for p in scored]
            self.repo.replace_all_auto_pairs(pairs)
            self.index = index
            self.feed.reset(cursor)
            for s in stored:
                self._merge_links(s.resource_id, s.body or {})
            nodes = {r.record_id for r in records}
            known = self.repo.links()
            goldens = self._write(nodes, set(known) - nodes, {link.golden_id for link in known.values()},
                                  (self.repo.all_pairs(), {s.resource_id: s for s in stored}, institutions))
            self.repo.record_event("batch-link", {"records": len(records), "pairs": len(pairs)}, "tessera link",
                                   None, self.clock())
            return {"records": len(records), "pairs_scored": len(pairs),
                    "matches": sum(p.decision == "match" for p in pairs),
                    "possible": sum(p.decision == "possible" for p in pairs), "golden_records": goldens,
                    "trained": trained, "seconds": round(time.perf_counter() - started, 3)}

    # -- manual decisions ----------------------------------------------------------------------------------
    def link(self, left: str, right: str, *, actor: str | None, reason: str | None) -> None:
        """Manual link: the two Patients belong to one golden record from now on."""
        self._decide(pair_key(left, right), "match", actor, reason, "merge")

    def unlink(self, patient: str, *, other: str | None, actor: str | None, reason: str | None) -> None:
        """Manual unlink: `patient` leaves its golden record (or only stops being linked to `other`)."""
        with self.lock:
            self._ensure_index()
            link = self.repo.links([patient]).get(patient)
            if link is None:
                raise ResourceNotFound(f"Patient/{patient} has no identity link")
            others = [other] if other else [m for m in self.repo.members([link.golden_id]).get(link.golden_id, [])
                                             if m != patient]
            for member in others:
                self._decide(pair_key(patient, member), "no-match", actor, reason, "unmerge")

    def review(self, pair_id: str, decision: str, *, actor: str | None, reason: str | None) -> Pair:
        """Record a reviewer's decision on a scored pair."""
        if decision not in ("match", "no-match"):
            raise InvalidRequest("decision must be 'match' or 'no-match'")
        pair = self.repo.pair(pair_id)
        if pair is None:
            raise ResourceNotFound(f"review item {pair_id[:40]} is not known")
        self._decide((pair.pair_id, pair.left_id, pair.right_id), decision, actor, reason, "review")
        return self.repo.pair(pair_id) or pair

    def _decide(self, key: tuple[str, str, str], decision: str, actor: str | None, reason: str | None,
                kind: str) -> None:
        with self.lock:
            self._ensure_index()
            now = self.clock()
            existing = self.repo.pair(key[0])
            pair = existing or Pair(*key)
            pair.manual, pair.actor, pair.reason, pair.updated_us = decision, actor, reason, now
            self.repo.set_manual(pair)
            self.repo.record_event(kind, {"patients": [f"Patient/{key[1]}", f"Patient/{key[2]}"],
                                          "decision": decision}, actor, reason, now)
            self._recluster({key[1], key[2]}, set())

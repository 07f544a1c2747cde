"""Golden records as stored FHIR Patients: new versions when they change, deleted versions when they go."""
from __future__ import annotations

from typing import Any

from engine.fhir.dates import format_instant
from engine.identity.ports import MDM_SOURCE
from engine.search.extraction import extract
from engine.services.writes import prepare_delete
from engine.store.model import CurrentVersion, PendingWrite
from engine.store.ports import UnitOfWork

# Index rows a golden Patient does not get: its identifiers and links are its members'. Without them a
# conditional write or an HL7 lookup by identifier finds only the source Patient, and nothing that follows
# references to a member (merges, compartments) reaches the golden record.
UNINDEXED = frozenset({"identifier", "link"})
CHUNK = 500  # ids per read (SQLite limits the parameters of one statement)


def _content(body: dict[str, Any] | None) -> dict[str, Any]:
    body = dict(body or {})
    meta = {k: v for k, v in (body.pop("meta", None) or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**body, "meta": meta}


def golden_version(body: dict[str, Any], current: CurrentVersion | None, now_us: int) -> PendingWrite:
    """The next stored version of a golden Patient. It is not re-validated: every element is a validated
    member's (one per choice type), and the rest has a fixed shape (tests validate the assembled Patient)."""
    version = current.version + 1 if current else 1
    stamped = {**body, "meta": {**(body.get("meta") or {}), "versionId": str(version),
                                "lastUpdated": format_instant(now_us), "source": MDM_SOURCE}}
    index = extract("Patient", {k: v for k, v in stamped.items() if k not in UNINDEXED})  # fewer paths to walk
    index.tokens = [row for row in index.tokens if row[0] not in UNINDEXED]
    index.references = [row for row in index.references if row[0] not in UNINDEXED]
    return PendingWrite(resource_type="Patient", resource_id=body["id"], version=version, last_updated_us=now_us,
                        method="update" if current else "create", body=stamped, source=MDM_SOURCE,
                        pid=current.pid if current else None, index=index, patient=body["id"])


def golden_writes(uow: UnitOfWork, goldens: dict[str, dict[str, Any]], retired: set[str], now_us: int, *,
                  fresh: set[str] = frozenset()) -> list[PendingWrite]:
    """The versions to save so the store holds exactly `goldens` (unchanged ones are not rewritten) and
    `retired` golden Patients are deleted; ids in `fresh` were just minted (nothing stored under them)."""
    ids = sorted(goldens)
    known = [g for g in ids if g not in fresh]  # fresh ids have nothing stored: no reads for them
    stored = {s.resource_id: s for start in range(0, len(known), CHUNK)
              for s in uow.read_many(("Patient", g) for g in known[start:start + CHUNK])}
    changed = [g for g in ids if g not in stored or _content(stored[g].body) != _content(goldens[g])]
    gone = sorted(retired - set(goldens))
    locked = [g for g in (*changed, *gone) if g not in fresh]
    current = {key[1]: version for start in range(0, len(locked), CHUNK)
               for key, version in uow.current_many((("Patient", g) for g in locked[start:start + CHUNK]),
                                                    for_update=True).items()}
    writes = [golden_version(goldens[g], current.get(g), now_us) for g in changed]
    for golden_id in gone:
        version = current.get(golden_id)
        if version is not None and not version.deleted:
            write = prepare_delete("Patient", golden_id, version, now_us)
            write.source = MDM_SOURCE
            writes.append(write)
    return writes

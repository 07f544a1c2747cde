"""Feed messages received into a store, and what the store then holds (shared by the store-level feed tests)."""
from __future__ import annotations

from engine.security.caller import SYSTEM

HEADER = "MSH|^~\\&|{app}|GENHOSP|TESSERA|TESSERA|20260101120000||{kind}|{control}|P|2.5.1"


def _message(kind: str, control: str, *segments: str, app: str = "ADM") -> bytes:
    return ("\r".join([HEADER.format(app=app, kind=kind, control=control), *segments]) + "\r").encode()


def _pid(mrn: str = "111^^^GENHOSP^MR", *, name: str = "Doe^Jane", birth: str = "19800101",
         address: str = "1 Main St^^Springfield^IL^62701") -> str:
    return f"PID|1||{mrn}||{name}||{birth}|F|||{address}|||||||||||||||||||"


def _pv1(visit: str, *, admitted: str = "20260101080000", discharged: str = "") -> str:
    return ("PV1|1|I|ICU^1^A^GENHOSP||||1234^House^Gregory|||MED||||ADM|||||"
            f"{visit}^^^GENHOSP^VN" + "|" * 24 + f"|{admitted}|{discharged}")


def _adt(trigger: str, control: str, pid: str, pv1: str | None = None) -> bytes:
    segments = [f"EVN|{trigger}|20260101120000", pid] + ([pv1] if pv1 else [])
    return _message(f"ADT^{trigger}^ADT_A01", control, *segments)


def _a40(control: str, survivor: str, merged: str, *, pid: str | None = None) -> bytes:
    return _message("ADT^A40^ADT_A39", control, "EVN|A40|20260102120000",
                    pid or f"PID|1||{survivor}^^^GENHOSP^MR||Doe^Jane", f"MRG|{merged}", app="MPI")


def _oru(control: str, mrn: str) -> bytes:
    return _message("ORU^R01^ORU_R01", control, f"PID|1||{mrn}^^^GENHOSP^MR||Doe^Jane",
                    "OBR|1|P9|F9|GLU^Glucose^L|||20260103080000",
                    "OBX|1|NM|2345-7^Glucose^LN||5.1|mmol/L|||||F", app="LIS")


def _receive(container, *messages: bytes) -> None:
    for raw in messages:
        outcome = container.feeds.receive(raw, peer="test")
        assert outcome.ack_code == "AA", (raw[:120], outcome.issues)


def _all(container, resource_type: str, **params) -> list[dict]:
    bundle = container.search.search(resource_type, list(params.items()) + [("_count", "100")],
                                     base_url="http://t/fhir")
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _by_mrn(container, mrn: str) -> list[dict]:
    return _all(container, "Patient", identifier=mrn)


def _read(container, key: str) -> dict:
    resource_type, resource_id = key.split("/")
    return container.resources.read(resource_type, resource_id, caller=SYSTEM).body

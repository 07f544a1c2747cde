"""Small synthetic HL7 v2 messages for rule tests (all data invented)."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from adapters.hl7v2 import MappingResult, map_message, parse_message

RECEIVED = "2026-01-02T03:04:05Z"


def msh(message_type: str, control_id: str = "C1", *, version: str = "2.5.1", sender: str = "ADT1",
        facility: str = "GENHOSP", timestamp: str = "20260101120000+0100") -> str:
    return (f"MSH|^~\\&|{sender}|{facility}|TESSERA|TESSERA|{timestamp}||{message_type}|{control_id}|P|{version}")


def pid(mrn: str = "MRN1^^^GENHOSP^MR", *, name: str = "Doe^Jane^Q", birth: str = "19800101", sex: str = "F",
        extra: str = "") -> str:
    return f"PID|1||{mrn}||{name}||{birth}|{sex}|||1 Main St^Apt 2^Springfield^IL^62701^USA^H{extra}"


def pv1(patient_class: str = "I", visit: str = "V1^^^GENHOSP^VN", *, admit: str = "20260101110000",
        discharge: str = "") -> str:
    fields = ["PV1", "1", patient_class, "ICU^101^A^GENHOSP", "", "", "", "1234^House^Gregory^^^Dr^^^NPI^L^^^NPI",
              "", "", "MED"] + [""] * 8 + [visit] + [""] * 24 + [admit, discharge]
    return "|".join(fields)


def adt(trigger: str = "A01", control_id: str = "C1", **kwargs: Any) -> str:
    patient = kwargs.pop("pid", pid())
    visit = kwargs.pop("pv1", pv1())
    return "\r".join([msh(f"ADT^{trigger}^ADT_A01", control_id, **kwargs), f"EVN|{trigger}|20260101120000",
                      patient, visit])


def oru(obx: list[str], control_id: str = "C2", *, obr: str | None = None, extra: list[str] = ()) -> str:
    request = obr or ("OBR|1|ORD1^EHR|FIL1^LAB|24323-8^Metabolic panel^LN|||20260101100000|||||||||||||||"
                      "20260101110000|||F")
    return "\r".join([msh("ORU^R01^ORU_R01", control_id, sender="LAB"), pid(), request, *obx, *extra])


def run(text: str, raw_message_id: str = "42") -> MappingResult:
    return map_message(parse_message(text), raw_message_id=raw_message_id, received_at=RECEIVED)


def resources(result: MappingResult, resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in result.bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def one(result: MappingResult, resource_type: str) -> dict[str, Any]:
    found = resources(result, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, got {len(found)}"
    return found[0]


def requests(result: MappingResult) -> list[tuple[str, str, str | None]]:
    """(method, url, ifNoneExist) of every entry, percent-decoding undone for readability."""
    def plain(text: str | None) -> str | None:
        return unquote(text) if text else text
    return [(e["request"]["method"], plain(e["request"]["url"]), plain(e["request"].get("ifNoneExist")))
            for e in result.bundle["entry"]]

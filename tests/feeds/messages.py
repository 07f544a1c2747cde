"""Small HL7 v2 messages written for the feed tests."""
from __future__ import annotations


def adt(trigger: str, control_id: str, *, mrn: str = "MRN001", family: str = "Doe", given: str = "Jane",
        visit: str = "V001", sender: str = "LAB", birth: str = "19800101") -> str:
    return "\r".join([
        f"MSH|^~\\&|{sender}|GENHOSP|TESSERA|TESSERA|20260101120000||ADT^{trigger}^ADT_A01|{control_id}|P|2.5.1",
        f"EVN|{trigger}|20260101120000",
        f"PID|1||{mrn}^^^GENHOSP^MR||{family}^{given}||{birth}|F|||1 Main St^^Springfield^IL^62701^USA",
        f"PV1|1|I|ICU^1^A^GENHOSP||||1234^House^Gregory|||MED||||ADM|||||{visit}^^^GENHOSP^VN"
        "|||||||||||||||||||||||||20260101120000",
    ]) + "\r"


def oru(control_id: str, *, mrn: str = "MRN001", order: str = "ORD1", value: str = "5.4") -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|GENHOSP|TESSERA|TESSERA|20260101130000||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{mrn}^^^GENHOSP^MR||Doe^Jane||19800101|F",
        f"OBR|1|{order}^LAB|{order}^LAB|24323-8^Metabolic panel^LN|||20260101125500|||||||||||||||20260101130000|||F",
        f"OBX|1|NM|2345-7^Glucose^LN||{value}|mmol/L^mmol/L^UCUM|3.9-5.5|N|||F|||20260101125500",
    ]) + "\r"


def a40(control_id: str, *, survivor: str, merged: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|GENHOSP|TESSERA|TESSERA|20260102120000||ADT^A40^ADT_A39|{control_id}|P|2.5.1",
        "EVN|A40|20260102120000",
        f"PID|1||{survivor}^^^GENHOSP^MR||Doe^Jane||19800101|F",
        f"MRG|{merged}^^^GENHOSP^MR",
    ]) + "\r"


def without_pid3(control_id: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|GENHOSP|TESSERA|TESSERA|20260101120000||ADT^A01^ADT_A01|{control_id}|P|2.5.1",
        "EVN|A01|20260101120000",
        "PID|1||||Doe^Jane||19800101|F",
        "PV1|1|I|ICU^1^A^GENHOSP",
    ]) + "\r"

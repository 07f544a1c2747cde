"""Synthetic but realistic HL7 v2.5.1 feed messages (ADT A01/A08/A03, ORU R01) for benchmarks and demos."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

FAMILIES = ["Garcia", "Nguyen", "Smith", "Okafor", "Müller", "Kowalski", "Haddad", "Tanaka", "Silva", "Brown"]
GIVENS = ["Maria", "Lan", "John", "Chidi", "Jürgen", "Anna", "Omar", "Yuki", "Pedro", "Emily"]
LABS = [("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "70-99", 60, 220),
        ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "0.6-1.3", 0.4, 3.5),
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "12.0-17.5", 7, 19),
        ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "4.5-11.0", 2, 25),
        ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "135-145", 120, 160)]
WARDS = ["MED1", "MED2", "SURG", "ICU", "CARD"]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _msh(kind: str, control_id: str, moment: datetime) -> str:
    return f"MSH|^~\\&|EPIC|GENHOSP|TESSERA|TESSERA|{_ts(moment)}||{kind}|{control_id}|P|2.5.1"


def _pid(_rng: random.Random, mrn: str) -> str:
    rng = random.Random(mrn)  # the same person on every message about them
    family, given = rng.choice(FAMILIES), rng.choice(GIVENS)
    birth = datetime(1930, 1, 1) + timedelta(days=rng.randrange(0, 90 * 365))
    sex = rng.choice("MF")
    return (f"PID|1||{mrn}^^^GENHOSP^MR||{family}^{given}^^^^^L||{birth:%Y%m%d}|{sex}|||"
            f"{rng.randrange(1, 999)} Main St^^Springfield^IL^{rng.randrange(60000, 62999)}^USA^H||"
            f"^PRN^PH^^^217^{rng.randrange(2000000, 9999999)}")


def adt(rng: random.Random, trigger: str, mrn: str, visit: str, control_id: str, moment: datetime) -> str:
    """One ADT message for a patient and visit."""
    ward = rng.choice(WARDS)
    discharge = _ts(moment + timedelta(days=3)) if trigger == "A03" else ""
    segments = [
        _msh(f"ADT^{trigger}^ADT_A01", control_id, moment),
        f"EVN|{trigger}|{_ts(moment)}",
        _pid(rng, mrn),
        f"PV1|1|I|{ward}^{rng.randrange(1, 40)}^{rng.choice('AB')}^GENHOSP||||1234^House^Gregory^^^Dr^^^NPI"
        f"|||MED||||ADM|||||{visit}^^^GENHOSP^VN|||||||||||||||||||||||||{_ts(moment)}|{discharge}",
    ]
    return "\r".join(segments) + "\r"


def oru(rng: random.Random, mrn: str, order: str, control_id: str, moment: datetime) -> str:
    """One ORU^R01 lab result message with a few numeric results."""
    segments = [_msh("ORU^R01^ORU_R01", control_id, moment), _pid(rng, mrn),
                f"OBR|1|{order}^EPIC|{order}^LAB|24323-8^Comprehensive metabolic panel^LN|||{_ts(moment)}"
                f"|||||||||||||||{_ts(moment)}|||F"]
    for index, (code, name, unit, ref_range, low, high) in enumerate(rng.sample(LABS, 3), start=1):
        value = round(rng.uniform(low, high), 1)
        lo, hi = (float(x) for x in ref_range.split("-"))
        flag = "H" if value > hi else "L" if value < lo else "N"
        segments.append(f"OBX|{index}|NM|{code}^{name}^LN||{value}|{unit}^{unit}^UCUM|{ref_range}|{flag}|||F"
                        f"|||{_ts(moment)}")
    return "\r".join(segments) + "\r"


def feed(count: int, *, seed: int = 11, patients: int | None = None) -> list[str]:
    """A realistic mix: admissions, updates, discharges and lab results for a pool of patients."""
    rng = random.Random(seed)
    pool = patients or max(1, count // 5)
    start = datetime(2026, 1, 1, 8, 0, 0)
    messages = []
    for index in range(count):
        patient = rng.randrange(pool)
        mrn, visit = f"MRN{patient:07d}", f"V{patient:07d}"
        moment = start + timedelta(minutes=index)
        control_id = f"MSG{seed:03d}{index:08d}"
        roll = rng.random()
        if roll < 0.45:
            messages.append(oru(rng, mrn, f"ORD{index:08d}", control_id, moment))
        else:
            trigger = "A01" if roll < 0.7 else "A08" if roll < 0.9 else "A03"
            messages.append(adt(rng, trigger, mrn, visit, control_id, moment))
    return messages

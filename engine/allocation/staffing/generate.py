"""Random but plausible staffing instances: ward clusters, ICU and paediatrics, leave, preferences."""
from __future__ import annotations

import math
import random
from typing import Any

SHIFTS = [{"id": "early", "start_hour": 7, "hours": 8}, {"id": "late", "start_hour": 15, "hours": 8},
          {"id": "night", "start_hour": 23, "hours": 8, "undesirable": True}]
PATIENTS_PER_NURSE = {"icu": {"early": 1.5, "late": 1.5, "night": 2.0},
                      "paediatric": {"early": 3.0, "late": 3.0, "night": 4.0},
                      "general": {"early": 4.0, "late": 5.0, "night": 7.0}}
SHIFT_SHARE = {"early": 0.37, "late": 0.35, "night": 0.28}  # of a ward's daily nurse-shifts


def generate(size: int, seed: int, *, days: int = 14, wards: int | None = None, utilisation: float = 0.93,
             senior_share: float = 0.22) -> dict[str, Any]:
    """`size` staff over `days` days; about 42 staff per ward; demand sized to `utilisation` of capacity."""
    rng = random.Random(seed)
    n_wards = wards if wards is not None else max(1, round(size / 42))
    ward_list: list[dict[str, Any]] = []
    kinds: list[str] = []
    for w in range(n_wards):
        if w == 0 and n_wards >= 3:
            kind, skills, name = "icu", ["critical_care"], "Intensive care"
        elif w == 1 and n_wards >= 3:
            kind, skills, name = "paediatric", ["paediatric"], "Paediatrics"
        else:
            kind, skills, name = "general", [], f"{'Medicine' if w % 2 else 'Surgery'} {w}"
        ward_list.append({"id": f"W{w:02d}", "name": name, "required_skills": skills})
        kinds.append(kind)
    general = [w["id"] for w, k in zip(ward_list, kinds) if k == "general"]
    clusters = [general[i:i + 4] for i in range(0, len(general), 4)] or [[]]
    groups: list[tuple[list[str], list[str], float]] = []  # (wards, skills, weight)
    for w, k in zip(ward_list, kinds):
        if k != "general":
            groups.append(([w["id"]], w["required_skills"], 1.25 if k == "icu" else 1.0))
    for cluster in clusters:
        if cluster:
            groups.append((cluster, [], float(len(cluster))))
    total_weight = sum(g[2] for g in groups)
    staff: list[dict[str, Any]] = []
    group_capacity: list[float] = []
    for g, (g_wards, skills, weight) in enumerate(groups):
        count = max(2, round(size * weight / total_weight)) if len(groups) > 1 else size
        if g == len(groups) - 1 and len(groups) > 1:
            count = max(2, size - len(staff))
        capacity = 0.0
        for _ in range(count):
            person = _person(rng, len(staff), days, g_wards, skills, senior_share)
            staff.append(person)
            off_days = len({u["day"] for u in person["unavailable"] if "shift" not in u})
            capacity += min(person["contracted_hours"], 8 * (days - off_days)) / 8
        group_capacity.append(capacity)
    census = []
    ratios = []
    for (g_wards, _, _), capacity in zip(groups, group_capacity):
        per_ward_day = capacity * utilisation / (len(g_wards) * days)
        for ward in g_wards:
            kind = kinds[[w["id"] for w in ward_list].index(ward)]
            for shift in SHIFTS:
                ratios.append({"ward": ward, "shift": shift["id"],
                               "patients_per_nurse": PATIENTS_PER_NURSE[kind][shift["id"]]})
            for day in range(days):
                weekend = day % 7 >= 5
                for shift in SHIFTS:
                    nurses = per_ward_day * SHIFT_SHARE[shift["id"]] * (0.9 if weekend else 1.04)
                    nurses *= rng.uniform(0.9, 1.1)
                    patients = math.floor(nurses * PATIENTS_PER_NURSE[kind][shift["id"]])
                    census.append({"ward": ward, "day": day, "shift": shift["id"],
                                   "patients": max(0, patients)})
    staff = staff[:size] if size else []
    return {"horizon": {"days": days, "start_weekday": 0}, "shifts": SHIFTS, "wards": ward_list,
            "staff": staff, "census": census, "ratios": ratios, "rules": {"max_consecutive_days": 5}}


def _person(rng: random.Random, n: int, days: int, wards: list[str], skills: list[str],
            senior_share: float) -> dict[str, Any]:
    senior = rng.random() < senior_share
    weekly = rng.choices([37.5, 30.0, 22.5], weights=[0.6, 0.25, 0.15])[0]
    person: dict[str, Any] = {
        "id": f"S{n:04d}", "grade": rng.choice(["band6", "band7"]) if senior else "band5", "senior": senior,
        "skills": list(skills), "contracted_hours": round(weekly * days / 7, 1), "wards": list(wards),
        "cost_per_hour": round((33.0 if senior else 27.0) * rng.uniform(0.95, 1.1), 2),
        "unavailable": [], "prefers": [], "avoids": [],
    }
    if rng.random() < 0.25:  # a block of annual leave
        start, length = rng.randrange(days), rng.randint(2, 5)
        person["unavailable"] += [{"day": d} for d in range(start, min(days, start + length))]
    for d in rng.sample(range(days), k=min(days, rng.randint(0, 2))):
        if {"day": d} not in person["unavailable"]:
            person["unavailable"].append({"day": d})
    if rng.random() < 0.1:  # no nights
        person["unavailable"] += [{"day": d, "shift": "night"} for d in range(days)]
    if rng.random() < 0.3:
        person["prefers"] = [{"day": d, "shift": rng.choice(["early", "late"])}
                             for d in rng.sample(range(days), k=min(days, rng.randint(1, 3)))]
    if rng.random() < 0.3:
        person["avoids"] = [{"day": d} for d in rng.sample(range(days), k=min(days, rng.randint(1, 3)))]
    return person

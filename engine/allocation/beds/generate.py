"""Random but plausible bed-placement instances: three hospitals, bays and side rooms, five regions."""
from __future__ import annotations

import random
from typing import Any

WARD_TYPES = {"medical": 0.42, "surgical": 0.30, "paediatric": 0.10, "icu": 0.08, "maternity": 0.10}
URGENCY = {1: 0.2, 2: 0.3, 3: 0.3, 4: 0.15, 5: 0.05}


def generate(size: int, seed: int, *, institutions: int = 3, regions: int = 5, bed_ratio: float = 0.85,
             isolation_share: float = 0.08, must_place_share: float = 0.0) -> dict[str, Any]:
    """`size` requests; about `bed_ratio` * size free beds over wards of every type in each hospital."""
    rng = random.Random(seed)
    inst = [{"id": f"H{i + 1}", "name": f"Hospital {i + 1}"} for i in range(institutions)]
    target_beds = max(1, round(size * bed_ratio))
    per_type = {t: max(1, round(target_beds * share)) for t, share in WARD_TYPES.items()}
    wards, bays, beds = [], [], []
    for t, count in per_type.items():
        # free beds of a type spread over hospitals, ~12 free beds per ward
        n_wards = max(institutions, round(count / 12))
        for k in range(n_wards):
            h = inst[k % institutions]["id"]
            wid = f"{h}-{t[:3].upper()}{k // institutions + 1}"
            wards.append({"id": wid, "institution": h, "type": t})
            free = count // n_wards + (1 if k < count % n_wards else 0)
            side = min(free, max(0, round(free * rng.uniform(0.1, 0.25))))
            for s in range(side):
                beds.append({"id": f"{wid}-SR{s + 1}", "ward": wid, "isolation": rng.random() < 0.8})
            left, b = free - side, 0
            while left > 0:
                bay_id = f"{wid}-B{b + 1}"
                if t in ("icu",):
                    sex = "mixed"
                elif t == "maternity":
                    sex = "female"
                else:
                    sex = rng.choices(["flexible", "female", "male"], weights=[0.5, 0.25, 0.25])[0]
                bays.append({"id": bay_id, "ward": wid, "sex": sex})
                take = min(left, rng.randint(2, 6))
                for j in range(take):
                    beds.append({"id": f"{bay_id}-{j + 1}", "ward": wid, "bay": bay_id})
                left -= take
                b += 1
    home = {f"R{g + 1}": inst[g % institutions]["id"] for g in range(regions)}
    requests = []
    for n in range(size):
        region = rng.choice(list(home))
        t = rng.choices(list(WARD_TYPES), weights=list(WARD_TYPES.values()))[0]
        sex = "female" if t == "maternity" else rng.choice(["female", "male"])
        preferred = home[region] if rng.random() < 0.9 else rng.choice(inst)["id"]
        urgency = rng.choices(list(URGENCY), weights=list(URGENCY.values()))[0]
        requests.append({"id": f"A{n:05d}", "sex": sex, "ward_type": t,
                         "isolation": rng.random() < isolation_share,
                         "preferred_institution": preferred, "region": region, "urgency": urgency,
                         "must_place": urgency == 5 and rng.random() < must_place_share})
    return {"institutions": inst, "wards": wards, "bays": bays, "beds": beds, "requests": requests,
            "rules": {"region_fairness_delta": 0.05}}

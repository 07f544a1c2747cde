"""Regenerate engine/fhir/definitions/search_parameters.json from the official R4 definitions.

Source: npm package hl7.fhir.r4.examples@4.0.1 (CC0-1.0), file package/Bundle-searchParams.json.
Usage: python deploy/definitions/build_search_parameters.py PATH/TO/Bundle-searchParams.json
(`make definitions` fetches the package with npm and runs this).
"""
import json
import sys
from pathlib import Path

KEEP = ("code", "base", "type", "expression", "target", "modifier", "comparator", "multipleOr")
OUT = Path(__file__).resolve().parents[2] / "engine" / "fhir" / "definitions" / "search_parameters.json"


def main(source: str) -> None:
    bundle = json.loads(Path(source).read_text(encoding="utf-8"))
    params = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        item = {key: resource[key] for key in KEEP if resource.get(key) is not None}
        item["url"] = resource["url"]
        if resource.get("component"):
            item["component"] = [{"definition": c["definition"], "expression": c["expression"]}
                                 for c in resource["component"]]
        params.append(item)
    params.sort(key=lambda p: (p["base"][0], p["code"]))
    document = {"fhirVersion": "4.0.1", "source": "hl7.fhir.r4.examples@4.0.1 Bundle-searchParams.json",
                "license": "CC0-1.0", "searchParameters": params}
    OUT.write_text(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(params)} search parameters to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])

"""`tessera link [--retrain]` (batch identity linking) and `tessera synth` (synthetic linkage data)."""
from __future__ import annotations

import argparse

import orjson

from engine.settings import load_settings


def _link(args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container

    container = build_container(load_settings())
    try:
        result = container.identity.link_all(retrain=args.retrain)
    finally:
        container.close()
    print(orjson.dumps(result).decode())  # noqa: T201 - counts only, no patient data
    return 0


def _synth(args: argparse.Namespace) -> int:
    from adapters.cli.synth import run_synth

    return run_synth(institutions=args.institutions, patients=args.patients, out=args.out, seed=args.seed)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `link` and `synth` subcommands to the `tessera` parser."""
    link = commands.add_parser("link", help="batch identity linking: score all Patients, rebuild golden records")
    link.add_argument("--retrain", action="store_true", help="train the match model on the stored Patients first")
    link.set_defaults(run=_link)
    synth = commands.add_parser("synth", help="write synthetic institutions (HL7 v2 + NDJSON) with ground truth")
    synth.add_argument("--institutions", type=int, default=3)
    synth.add_argument("--patients", type=int, default=1000)
    synth.add_argument("--out", required=True)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_synth)

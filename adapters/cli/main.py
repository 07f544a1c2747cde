"""`tessera` command line: serve, migrate, ingest, load-sample, bench."""
from __future__ import annotations

import argparse
import logging
import sys

from engine.settings import load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from adapters.bootstrap import build_container
    from adapters.http.app import create_app

    settings = load_settings()
    container = build_container(settings)
    app = create_app(container)
    log = logging.getLogger("tessera")
    log.info("serving the %s profile on http://%s:%s/fhir", settings.profile, args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower(),
                access_log=False, workers=1)
    container.close()
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container

    build_container(load_settings()).close()
    print("schema is up to date")  # noqa: T201 - CLI output
    return 0


def _load_sample(args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container
    from adapters.cli.sample_data import sample_bundles

    settings = load_settings()
    container = build_container(settings)
    if args.if_empty and container.store.counts_by_type():
        print("store already holds data; sample not loaded again")  # noqa: T201
        container.close()
        return 0
    total = 0
    for bundle in sample_bundles():
        result = container.bundles.process(bundle, base_url="http://localhost/fhir", source="urn:tessera:sample-data")
        total += len(result["entry"])
    container.close()
    print(f"loaded {total} resources from {len(sample_bundles())} sample bundles into {settings.profile} store")  # noqa: T201
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from adapters.cli.ingest import run_ingest

    return run_ingest(args.paths)


def _bench(args: argparse.Namespace) -> int:
    from adapters.cli.bench import run_bench

    return run_bench(args.name, args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `tessera` command."""
    parser = argparse.ArgumentParser(prog="tessera", description="Tessera FHIR integration engine")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the FHIR API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="create or upgrade the store schema").set_defaults(run=_migrate)
    sample = commands.add_parser("load-sample", help="load the bundled Synthea sample patients")
    sample.add_argument("--if-empty", action="store_true", help="only when the store holds nothing yet")
    sample.set_defaults(run=_load_sample)
    ingest = commands.add_parser("ingest", help="load FHIR JSON / NDJSON files or folders")
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(run=_ingest)
    bench = commands.add_parser("bench", help="run a benchmark; last line is one JSON object")
    bench.add_argument("name", choices=["ingest"])
    bench.add_argument("--json", action="store_true", help="print the JSON summary line (always last)")
    bench.add_argument("--bundles", type=int, default=None, help="number of Synthea-shaped bundles")
    bench.add_argument("--concurrency", type=int, default=2, help="concurrent loading clients")
    bench.add_argument("--backend", action="append", choices=["sqlite", "postgresql"],
                       help="backends to measure (default: both)")
    bench.set_defaults(run=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tessera` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=load_settings().log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

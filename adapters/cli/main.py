"""`tessera` command line: serve, migrate, ingest, load-sample, bench."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from engine.settings import load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    processes = server_processes(args.processes, settings.resolved_database_url())
    scheme = "https" if settings.api_tls_cert and settings.api_tls_key else "http"
    logging.getLogger("tessera").info("serving the %s profile on %s://%s:%s/fhir (%d process%s)", settings.profile,
                                      scheme, args.host, args.port, processes, "es" if processes > 1 else "")
    tls = {}
    if settings.api_tls_cert and settings.api_tls_key:
        tls = {"ssl_certfile": str(settings.api_tls_cert), "ssl_keyfile": str(settings.api_tls_key)}
    # access_log=False: request lines carry search parameters, which may name patients
    options = {"host": args.host, "port": args.port, "log_level": settings.log_level.lower(), "access_log": False,
               **tls}
    if processes > 1:
        from adapters.http.processes import serve_processes

        return serve_processes(settings, processes, options)
    from adapters.http.app import served_app

    uvicorn.run(served_app(settings), workers=1, **options)
    return 0


def server_processes(requested: int, database_url: str) -> int:
    """Processes for `tessera serve` and `tessera mllp`: as asked, else one per CPU core on PostgreSQL (1 on
    SQLite, whose single writer gains nothing from more)."""
    import os

    if requested > 0:
        return requested
    return 1 if database_url.startswith("sqlite") else max(1, os.cpu_count() or 1)


def _mllp_server(settings: Any, container: Any) -> Any:
    from adapters.mllp.server import MllpServer, tls_context

    context = None
    if settings.mllp_tls_cert and settings.mllp_tls_key:
        context = tls_context(str(settings.mllp_tls_cert), str(settings.mllp_tls_key))
    return MllpServer(container.feeds, max_message_bytes=settings.mllp_max_message_bytes,
                      workers=settings.mllp_workers, ssl_context=context)


def _mllp_listener(settings: Any, sock: Any, balancer: Any) -> None:
    """One listener process of `tessera mllp --processes N` (the schema is already migrated)."""
    import asyncio

    from adapters.bootstrap import build_container
    from adapters.runtime_memory import settle_heap

    container = build_container(settings, migrate=False)
    server = _mllp_server(settings, container)
    settle_heap()
    balancer.started()
    try:
        asyncio.run(server.serve_shared(sock, balancer))
    finally:
        server.close()
        container.close()


def _mllp(args: argparse.Namespace) -> int:
    import asyncio
    import functools

    settings = load_settings()
    processes = server_processes(args.processes, settings.resolved_database_url())
    tls = bool(settings.mllp_tls_cert and settings.mllp_tls_key)
    logging.getLogger("tessera").info("MLLP listener (%s profile%s, %d process%s) on %s:%s", settings.profile,
                                      ", TLS" if tls else "", processes, "es" if processes > 1 else "",
                                      args.host, args.port)
    if processes > 1:
        from adapters.bootstrap import prepare_for_processes
        from adapters.mllp.processes import run_processes

        prepare_for_processes(settings)
        return run_processes(args.host, args.port, processes, functools.partial(_mllp_listener, settings))
    from adapters.bootstrap import build_container
    from adapters.runtime_memory import settle_heap

    container = build_container(settings)
    server = _mllp_server(settings, container)
    settle_heap()
    try:
        asyncio.run(server.serve_forever(args.host, args.port))
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        container.close()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container

    container = build_container(load_settings())
    if args.list:
        for message in container.feeds.failed(limit=args.limit or 100_000):
            print(f"{message.message_id}\t{message.status}\t{message.message_type or '-'}\t"  # noqa: T201
                  f"{message.control_id or '-'}\t{message.reason or ''}")
        container.close()
        return 0
    outcomes = container.feeds.replay(message_ids=args.id or None, limit=args.limit)
    container.close()
    fixed = sum(1 for o in outcomes if o.ack_code == "AA")
    for outcome in outcomes:
        if outcome.ack_code != "AA":
            reasons = "; ".join(i.text for i in outcome.issues)[:300]
            print(f"message {outcome.message_id}: still {outcome.ack_code}: {reasons}", file=sys.stderr)  # noqa: T201
    print(f"replay: {fixed} of {len(outcomes)} messages processed")  # noqa: T201
    return 0 if fixed == len(outcomes) else 1


def _token(args: argparse.Namespace) -> int:
    from adapters.auth.keys import load_signing_key
    from adapters.auth.tokens import issue_token

    settings = load_settings()
    key = load_signing_key(settings.auth_signing_key_file, settings.data_dir, environment=settings.environment)
    print(issue_token(key, issuer=settings.auth_issuer, audience=settings.auth_audience,  # noqa: T201
                      client_id=args.client, institution=args.institution, scope=args.scope,
                      patient=args.patient, user=args.user, ttl_s=_seconds(args.ttl)))
    return 0


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and (text[:-1].isascii() and text[:-1].isdigit()):
        return int(text[:-1]) * units[text[-1]]
    if (text.isascii() and text.isdigit()):
        return int(text)
    raise SystemExit(f"--ttl: '{text}' is not a duration such as 15m, 2h, 900")


def _allocate(args: argparse.Namespace) -> int:
    import orjson

    from engine import allocation

    document = orjson.loads(open(args.file, "rb").read())
    kind = args.kind or (document.get("kind") if isinstance(document, dict) else None)
    problem = document.get("problem", document) if isinstance(document, dict) else None
    if kind not in allocation.KINDS or not isinstance(problem, dict):
        print('the file must hold {"kind": "staffing|beds|scheduling", "problem": {...}} '  # noqa: T201
              "(or pass --kind with a bare problem)", file=sys.stderr)
        return 2
    used = None
    if problem.get("census") == "from-store":
        from adapters.bootstrap import build_container

        container = build_container(load_settings())
        problem, used = container.allocation_jobs.with_integrated_data(problem)
        container.close()
    try:
        result = allocation.solve(kind, problem, time_limit_s=args.time_limit, gap=args.gap).to_dict()
    except allocation.AllocationInputError as exc:
        for path, message in exc.fields:
            print(f"{args.file}: {path}: {message}", file=sys.stderr)  # noqa: T201
        return 2
    print(allocation.render_plan(kind, problem, result))  # noqa: T201
    if used:
        print(f"census derived from the store: {used}")  # noqa: T201
    return 0 if result.get("status") in ("optimal", "feasible") else 3


def _worker(args: argparse.Namespace) -> int:
    import subprocess

    command = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--loglevel", "INFO",
               "-Q", args.queues, "--concurrency", str(args.concurrency), "--without-gossip", "--without-mingle"]
    if args.beat:
        schedule = load_settings().data_dir / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        command += ["--beat", "--schedule", str(schedule)]
    return subprocess.call(command)


def _migrate(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container

    build_container(load_settings()).close()
    print("schema is up to date")  # noqa: T201 - CLI output
    return 0


def _load_sample(args: argparse.Namespace) -> int:
    from engine.security.caller import Caller
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
        result = container.bundles.process(bundle, base_url="http://localhost/fhir", source="urn:tessera:sample-data",
                                           caller=Caller.institution_only(settings.default_institution))
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
    serve.add_argument("--processes", type=int, default=0,
                       help="API processes sharing the port (default: one per CPU core on PostgreSQL, "
                            "1 on the embedded store)")
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="create or upgrade the store schema").set_defaults(run=_migrate)
    token = commands.add_parser("token", help="issue an access token from the local issuer")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", help="print a signed JWT")
    issue.add_argument("--client", required=True)
    issue.add_argument("--institution", required=True)
    issue.add_argument("--scope", required=True, help='e.g. "user/*.rs" or "system/*.cruds tessera/audit.read"')
    issue.add_argument("--patient", help="patient context: the token sees only this patient's compartment")
    issue.add_argument("--user", help="fhirUser of the person using the client")
    issue.add_argument("--ttl", default="15m")
    issue.set_defaults(run=_token)
    allocate = commands.add_parser("allocate", help="solve an allocation problem and print the plan")
    allocate.add_argument("file", help='JSON: {"kind": ..., "problem": {...}}')
    allocate.add_argument("--kind", choices=["staffing", "beds", "scheduling"])
    allocate.add_argument("--time-limit", type=float, default=60.0)
    allocate.add_argument("--gap", type=float, default=0.01)
    allocate.set_defaults(run=_allocate)
    worker = commands.add_parser("worker", help="run a Celery worker (needs TESSERA_BROKER_URL)")
    worker.add_argument("--queues", default="allocation,index")
    worker.add_argument("--concurrency", type=int, default=1)
    worker.add_argument("--beat", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the periodic index sweep (one worker of a deployment is enough)")
    worker.set_defaults(run=_worker)
    mllp = commands.add_parser("mllp", help="receive HL7 v2 over MLLP")
    mllp.add_argument("--host", default="127.0.0.1")
    mllp.add_argument("--port", type=int, default=2575)
    mllp.add_argument("--processes", type=int, default=0,
                      help="listener processes sharing the port (default: one per CPU core on PostgreSQL, "
                           "1 on the embedded store)")
    mllp.set_defaults(run=_mllp)
    replay = commands.add_parser("replay", help="re-run failed feed messages (the error queue)")
    replay.add_argument("--id", type=int, action="append", help="message id (repeatable); default: all failed")
    replay.add_argument("--list", action="store_true", help="list the error queue instead")
    replay.add_argument("--limit", type=int, default=None,
                        help="at most this many messages (default: the whole queue, each once)")
    replay.set_defaults(run=_replay)
    sample = commands.add_parser("load-sample", help="load the bundled Synthea sample patients")
    sample.add_argument("--if-empty", action="store_true", help="only when the store holds nothing yet")
    sample.set_defaults(run=_load_sample)
    ingest = commands.add_parser("ingest", help="load FHIR JSON / NDJSON files or folders")
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(run=_ingest)
    bench = commands.add_parser("bench", help="run a benchmark; last line is one JSON object")
    bench.add_argument("name", choices=["ingest", "mllp", "allocate", "link", "index", "search",
                                               "relevance"])
    bench.add_argument("--json", action="store_true", help="print the JSON summary line (always last)")
    bench.add_argument("--bundles", type=int, default=None, help="number of Synthea-shaped bundles")
    bench.add_argument("--concurrency", type=int, default=2, help="ingest: concurrent loading clients")
    bench.add_argument("--messages", type=int, default=2000, help="mllp: messages to send")
    bench.add_argument("--connections", type=int, default=4, help="mllp: concurrent MLLP connections")
    bench.add_argument("--processes", type=int, default=0,
                       help="ingest: loading processes (default: as `tessera serve` chooses); "
                            "mllp: listener processes (default: as `tessera mllp` chooses)")
    bench.add_argument("--patients", type=int, default=None, help="link: distinct people in the synthetic data")
    bench.add_argument("--backend", action="append", choices=["sqlite", "postgresql"],
                       help="backends to measure (default: both)")
    bench.add_argument("--index-backend", action="append", choices=["elasticsearch", "embedded"],
                       help="index, search: search indexes to measure (default: both)")
    bench.add_argument("--documents", type=int, default=100_000, help="search: documents in the index")
    bench.add_argument("--rounds", type=int, default=200, help="search: queries timed per mode")
    bench.add_argument("--data", default=None, help="relevance: folder of Synthea transaction bundles "
                                                     "(default: ../shared/data/fhir-r4/synthea); index: Synthea "
                                                     "files to index instead of generated bundles")
    bench.add_argument("--queries", default=None,
                       help="relevance: query set JSON (default: tests/relevance/queries.json)")
    bench.set_defaults(run=_bench)
    from adapters.cli.link import register as register_identity_commands

    register_identity_commands(commands)  # link, synth
    from adapters.cli.index import register as register_index_commands

    register_index_commands(commands)  # reindex
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tessera` command."""
    from adapters.runtime_memory import tune_collector

    args = build_parser().parse_args(argv)
    tune_collector()
    logging.basicConfig(level=load_settings().log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""`tessera bench NAME --json`: run a benchmark; the last printed line is one JSON object."""
from __future__ import annotations

import argparse

import orjson


def run_bench(name: str, args: argparse.Namespace) -> int:
    """Dispatch to the named benchmark and print its JSON summary last."""
    if name == "ingest":
        from adapters.cli.bench_ingest import bench_ingest

        result = bench_ingest(bundles=args.bundles or 100, backends=args.backend or ["sqlite", "postgresql"],
                              concurrency=args.concurrency, processes=args.processes)
    elif name == "mllp":
        from adapters.cli.bench_mllp import bench_mllp

        result = bench_mllp(messages=args.messages, connections=args.connections,
                            backends=args.backend or ["sqlite", "postgresql"], processes=args.processes)
    elif name == "allocate":
        from engine.allocation.bench import run_benchmark

        result = run_benchmark()
    elif name == "link":
        from adapters.cli.bench_link import bench_link

        result = bench_link(patients=getattr(args, "patients", None) or 2000)
    elif name == "index":
        from adapters.cli.bench_index import bench_index

        result = bench_index(bundles=args.bundles or 80, data=args.data,
                             backends=args.index_backend or ["elasticsearch", "embedded"])
    elif name == "search":
        from adapters.cli.bench_search import bench_search

        result = bench_search(documents=args.documents, rounds=args.rounds,
                              backends=args.index_backend or ["elasticsearch", "embedded"])
    elif name == "relevance":
        from adapters.cli.bench_relevance import bench_relevance

        result = bench_relevance(data=args.data, queries=args.queries,
                                 backend=(args.index_backend or ["embedded"])[0])
    else:  # argparse restricts the choices
        raise SystemExit(f"unknown benchmark {name}")
    print(orjson.dumps(result).decode())  # noqa: T201
    return 0

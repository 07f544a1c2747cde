"""`tessera reindex`: rebuild the search index from the store, or check it (`--verify`)."""
from __future__ import annotations

import argparse
import json

from engine.settings import load_settings


def _reindex(args: argparse.Namespace) -> int:
    from adapters.bootstrap import build_container

    container = build_container(load_settings(), indexing_trigger=False)
    try:
        service = container.indexing
        if args.verify:
            result = service.verify(args.type)
            print(json.dumps({"checked": result.checked, "missing": len(result.missing),  # noqa: T201
                              "stale": len(result.stale), "ahead": len(result.ahead),
                              "orphans": len(result.orphans),
                              "pending_events": container.indexing.outbox.pending(), "clean": result.clean}))
            for label, keys in (("missing", result.missing), ("stale", result.stale), ("ahead", result.ahead),
                                ("orphan", result.orphans)):
                for key in keys[:args.show]:
                    print(f"{label} {key}")  # noqa: T201 - resource keys only, no content
            if result.ahead:
                print("documents newer than the store (a restored store?): run `tessera reindex --clear`")  # noqa: T201
            return 0 if result.clean else 1
        report = service.reindex(args.type, clear=args.clear)
        print(json.dumps({"resources": report.events, "indexed": report.indexed, "unchanged": report.stale,  # noqa: T201
                          "deleted_orphans": report.deleted, "rejected": report.rejected,
                          "seconds": round(report.seconds, 2)}))
        return 0 if not report.rejected else 1
    finally:
        container.close()


def register(commands: argparse._SubParsersAction) -> None:
    """Add `reindex` to the `tessera` command."""
    reindex = commands.add_parser("reindex", help="rebuild the search index from the store, or --verify it")
    reindex.add_argument("--type", help="only this resource type")
    reindex.add_argument("--verify", action="store_true",
                         help="report missing, stale and orphan documents (exit 1 unless clean)")
    reindex.add_argument("--clear", action="store_true", help="remove the documents first")
    reindex.add_argument("--show", type=int, default=20, help="--verify: list up to this many keys per kind")
    reindex.set_defaults(run=_reindex)

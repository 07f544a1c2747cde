"""MLLP benchmark: a realistic ADT/ORU mix over K concurrent connections vs bare parsing of the same messages."""
from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from engine.settings import Settings
from adapters import hl7v2
from adapters.bootstrap import build_container
from adapters.cli.bench_ingest import _database
from adapters.cli.hl7_samples import feed
from adapters.mllp.framing import FrameReader
from adapters.mllp.server import MllpServer


def _parse_only(messages: list[bytes]) -> float:
    for message in messages[:50]:
        hl7v2.parse_message(message)  # warm-up
    started = time.perf_counter()
    for message in messages:
        hl7v2.parse_message(message)
    return len(messages) / (time.perf_counter() - started)


def _client(port: int, messages: list[bytes], latencies: list[float], codes: Counter) -> None:
    reader = FrameReader(16 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        for message in messages:
            started = time.perf_counter()
            connection.sendall(FrameReader.frame(message))
            frames: list[bytes] = []
            while not frames:
                data = connection.recv(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                frames = reader.feed(data)
            latencies.append((time.perf_counter() - started) * 1000)
            msa = next(s for s in frames[0].split(b"\r") if s.startswith(b"MSA"))
            codes[msa.split(b"|")[1].decode()] += 1


def _run_server(container: Any) -> tuple[MllpServer, asyncio.AbstractEventLoop, int, threading.Thread]:
    server = MllpServer(container.feeds, workers=8)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port_box: list[int] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        started = loop.run_until_complete(server.start("127.0.0.1", 0))
        port_box.append(started.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    return server, loop, port_box[0], thread


def _measure(url: str, messages: list[bytes], connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        container = build_container(Settings(database_url=url, data_dir=Path(folder), search_indexing="off"))
        server, loop, port, thread = _run_server(container)
        try:
            warm = [m.replace(b"|MSG", b"|WARM") for m in messages[:20]]
            _client(port, warm, [], Counter())
            shares = [messages[i::connections] for i in range(connections)]
            latencies: list[float] = []
            codes: Counter = Counter()
            threads = [threading.Thread(target=_client, args=(port, share, latencies, codes)) for share in shares]
            started = time.perf_counter()
            for worker in threads:
                worker.start()
            for worker in threads:
                worker.join()
            seconds = time.perf_counter() - started
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            server.close()
            container.close()
    latencies.sort()
    return {"messages": len(latencies), "seconds": round(seconds, 3), "messages_per_s": round(len(latencies) / seconds, 1),
            "p50_ack_ms": round(statistics.median(latencies), 2),
            "p95_ack_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2), "acks": dict(codes)}


def bench_mllp(*, messages: int, connections: int, backends: list[str]) -> dict[str, Any]:
    """Send `messages` over `connections` MLLP connections per backend; compare with bare parsing."""
    payloads = [m.encode() for m in feed(messages)]
    results = []
    for backend in backends:
        parse_rate = _parse_only(payloads)
        with _database(backend) as url:
            row = _measure(url, payloads, connections)
        row.update({"backend": "embedded" if backend == "sqlite" else backend, "connections": connections,
                    "parse_only_per_s": round(parse_rate, 1), "ratio": round(row["messages_per_s"] / parse_rate, 3)})
        print(f"{row['backend']}: {row['messages_per_s']:.0f} msg/s, p95 ACK {row['p95_ack_ms']} ms, "  # noqa: T201
              f"parse alone {parse_rate:.0f}/s, acks {row['acks']}", file=sys.stderr, flush=True)
        results.append(row)
    return {"benchmark": "mllp", "results": results}

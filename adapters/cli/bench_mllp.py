"""MLLP benchmark: a realistic ADT/ORU mix over K concurrent connections to a `tessera mllp` listener vs bare parsing."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from engine.settings import load_settings
from adapters import hl7v2
from adapters.cli.bench_ingest import _database
from adapters.cli.hl7_samples import feed
from adapters.cli.main import server_processes
from adapters.mllp.framing import FrameReader


def _parse_only(messages: list[bytes]) -> float:
    for message in messages[:50]:
        hl7v2.parse_message(message)  # warm-up
    started = time.perf_counter()
    for message in messages:
        hl7v2.parse_message(message)
    return len(messages) / (time.perf_counter() - started)


def _map_only(messages: list[bytes]) -> float:
    parsed = [hl7v2.parse_message(message) for message in messages]
    for message in parsed[:50]:
        hl7v2.map_message(message, raw_message_id="warm-up", received_at="2026-01-01T00:00:00Z")
    started = time.perf_counter()
    for index, message in enumerate(parsed):
        hl7v2.map_message(message, raw_message_id=str(index), received_at="2026-01-01T00:00:00Z")
    return len(parsed) / (time.perf_counter() - started)


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _listener(url: str, processes: int, folder: str, port: int) -> Iterator[int]:
    """`tessera mllp` as deployed (its own process or processes) on `port`; yields its process id."""
    env = {**os.environ, "TESSERA_DATABASE_URL": url, "TESSERA_DATA_DIR": folder, "TESSERA_SEARCH_INDEXING": "off",
           "TESSERA_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "adapters.cli.main", "mllp", "--host", "127.0.0.1", "--port", str(port),
               "--processes", str(processes)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the MLLP listener exited: {process.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the MLLP listener did not start within 120 s") from None
                time.sleep(0.1)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _parallel(port: int, shares: list[list[bytes]], latencies: list[float], codes: Counter) -> float:
    threads = [threading.Thread(target=_client, args=(port, share, latencies, codes)) for share in shares]
    started = time.perf_counter()
    for worker in threads:
        worker.start()
    for worker in threads:
        worker.join()
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its direct children (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [pid, *(int(child) for child in children.read().split())]
        total = 0
        for each in pids:
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0.0


def _measure(url: str, messages: list[bytes], connections: int, processes: int) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder, _listener(url, processes, folder, port) as pid:
        warm = [m.replace(b"|MSG", b"|WARM") for m in messages[:10 * connections]]  # every listener warms up
        _parallel(port, [warm[i::connections] for i in range(connections)], [], Counter())
        latencies: list[float] = []
        codes: Counter = Counter()
        cpu = _cpu_seconds(pid)
        seconds = _parallel(port, [messages[i::connections] for i in range(connections)], latencies, codes)
        cpu = _cpu_seconds(pid) - cpu
    latencies.sort()
    return {"messages": len(latencies), "seconds": round(seconds, 3), "messages_per_s": round(len(latencies) / seconds, 1),
            "p50_ack_ms": round(statistics.median(latencies), 2),
            "p95_ack_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2), "acks": dict(codes),
            "listener_cpu_ms_per_message": round(1000 * cpu / max(1, len(latencies)), 2)}


def bench_mllp(*, messages: int, connections: int, backends: list[str], processes: int = 0) -> dict[str, Any]:
    """Send `messages` over `connections` MLLP connections per backend; compare with bare parsing.

    The listener runs as `tessera mllp` does in production: a separate process (one per core on
    PostgreSQL unless `processes` says otherwise), identity matching as configured (TESSERA_IDENTITY_MATCHING).
    """
    payloads = [m.encode() for m in feed(messages)]
    settings = load_settings()
    results = []
    for backend in backends:
        parse_rate = _parse_only(payloads)
        map_rate = _map_only(payloads)
        with _database(backend) as url:
            listeners = server_processes(processes, url)
            row = _measure(url, payloads, connections, listeners)
        row.update({"backend": "embedded" if backend == "sqlite" else backend, "connections": connections,
                    "processes": listeners, "identity_matching": settings.identity_matching,
                    "search_indexing": "off", "cpu_cores": os.cpu_count(),
                    "parse_only_per_s": round(parse_rate, 1), "parse_and_map_per_s": round(
                        1 / (1 / parse_rate + 1 / map_rate), 1), "ratio": round(row["messages_per_s"] / parse_rate, 3)})
        print(f"{row['backend']}: {row['messages_per_s']:.0f} msg/s, p95 ACK {row['p95_ack_ms']} ms "  # noqa: T201
              f"({listeners} listener processes, identity matching {settings.identity_matching}), "
              f"parse alone {parse_rate:.0f}/s, parse and map {1 / (1 / parse_rate + 1 / map_rate):.0f}/s, acks {row['acks']}", file=sys.stderr, flush=True)
        results.append(row)
    return {"benchmark": "mllp", "results": results}

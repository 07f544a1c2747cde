"""`tessera mllp --processes N`: listeners share one port and spread long-lived connections evenly."""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import ssl
import time
from collections import Counter

import pytest

from adapters.mllp.processes import Balancer
from tests.feeds import messages
from tests.feeds.conftest import alive, child_pids

SB, EB = b"\x0b", b"\x1c\x0d"


def _exchange(connection: socket.socket, payload: str) -> list[str]:
    connection.sendall(SB + payload.encode() + EB)
    data = b""
    while EB not in data:
        chunk = connection.recv(65536)
        assert chunk, "the listener closed the connection"
        data += chunk
    return data.strip(b"\x0b\x1c\r").decode().split("\r")


def _ack_process(segments: list[str]) -> str:
    """Which listener answered: each process numbers its ACKs under its own random prefix (MSH-10)."""
    return segments[0].split("|")[9][:8]


def test_two_listener_processes_share_the_connections_and_store_every_message_once(listener_factory):
    listener = listener_factory(processes=2)
    listener.start()
    connections = [socket.create_connection(("127.0.0.1", listener.port), timeout=30) for _ in range(4)]
    try:
        answered_by = []
        for round_ in range(3):
            for number, connection in enumerate(connections):
                control = f"P{number}-{round_}"
                ack = _exchange(connection, messages.oru(control, mrn=f"M{number}", order=f"O{number}-{round_}"))
                assert ack[1].split("|")[1:3] == ["AA", control]
                answered_by.append((number, _ack_process(ack)))
        by_connection = {number: {process for n, process in answered_by if n == number} for number in range(4)}
        assert all(len(processes) == 1 for processes in by_connection.values()), "a connection stays with its process"
        spread = Counter(next(iter(processes)) for processes in by_connection.values())
        assert sorted(spread.values()) == [2, 2], spread
        repeat = _exchange(connections[0], messages.oru("P0-0", mrn="M0", order="O0-0"))  # a resend: AA, no write
        assert repeat[1].split("|")[1:3] == ["AA", "P0-0"]
    finally:
        for connection in connections:
            connection.close()
    container = listener.container()
    try:
        found = container.search.search("DiagnosticReport", [("_summary", "count")], base_url="http://t")
        assert found["total"] == 12
    finally:
        container.close()


def test_the_listener_processes_die_with_their_parent(listener_factory):
    listener = listener_factory(processes=2)
    listener.start()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as connection:
        assert _exchange(connection, messages.adt("A01", "K1"))[1].startswith("MSA|AA|")
    children = child_pids(listener.process.pid)
    assert len(children) == 2
    listener.process.kill()
    listener.process.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in children)


def test_balancer_takes_turns_by_open_connections():
    counts = multiprocessing.get_context("fork").Array("i", 3)
    first, second, third = (Balancer(counts, slot) for slot in range(3))
    assert first.my_turn() and second.my_turn() and third.my_turn()
    first.opened()
    assert not first.my_turn() and second.my_turn() and third.my_turn()
    second.opened()
    third.opened()
    assert first.my_turn() and second.my_turn()
    second.closed()
    assert second.my_turn() and not first.my_turn() and not third.my_turn()


@pytest.mark.parametrize("requested, url, expected", [(3, "postgresql+psycopg://x/y", 3), (1, "postgresql://x/y", 1),
                                                      (0, "sqlite:///x.db", 1),
                                                      (0, "postgresql+psycopg://x/y", os.cpu_count() or 1)])
def test_default_listener_processes(requested, url, expected):
    from adapters.cli.main import server_processes

    assert server_processes(requested, url) == expected


def test_sigterm_stops_every_listener(listener_factory):
    listener = listener_factory(processes=2)
    listener.start()
    pid = listener.process.pid
    children = child_pids(pid)
    os.kill(pid, signal.SIGTERM)
    _, errors = listener.process.communicate(timeout=20)
    assert listener.process.returncode == 0, errors.decode()[-3000:]
    assert not any(alive(child) for child in children)


def test_listener_processes_speak_tls_when_configured(listener_factory, tmp_path):
    from tests.security.test_tls import _self_signed

    cert, key = _self_signed(tmp_path)
    listener = listener_factory(processes=2, TESSERA_MLLP_TLS_CERT=str(cert), TESSERA_MLLP_TLS_KEY=str(key))
    listener.start()
    context = ssl.create_default_context(cafile=str(cert))
    for number in range(3):  # one connection after another, whichever listener takes it
        with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as secure:
            control = f"T{number}"
            assert _exchange(secure, messages.adt("A01", control))[1].split("|")[1:3] == ["AA", control]

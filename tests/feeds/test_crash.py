"""Kill the listener mid-stream: everything acknowledged AA is stored exactly once, nothing is half-stored."""
from __future__ import annotations

import socket
import threading
import time

from tests.feeds import messages

SB, EB = b"\x0b", b"\x1c\x0d"


def _stream(port: int, payloads: list[tuple[str, bytes]], acked: list[str], stop: threading.Event) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            for control, payload in payloads:
                if stop.is_set():
                    return
                connection.sendall(SB + payload + EB)
                data = b""
                while EB not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if b"|AA|" in data:
                    acked.append(control)
    except OSError:
        return


def test_acknowledged_messages_survive_a_kill_exactly_once(listener_factory):
    listener = listener_factory()
    listener.start()
    payloads = [(f"K{index}", messages.oru(f"K{index}", mrn=f"P{index % 7}", order=f"ORD{index}").encode())
                for index in range(400)]
    acked: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_stream, args=(listener.port, payloads, acked, stop))
    sender.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    listener.kill()
    stop.set()
    sender.join(30)
    assert 40 <= len(acked) < 400, "the kill must land mid-stream"

    listener.start()  # restart on the same store; resend everything, as a sender would after a reconnect
    resent: list[str] = []
    _stream(listener.port, payloads, resent, threading.Event())
    assert len(resent) == 400

    container = listener.container()
    try:
        for control in acked + ["K399"]:
            order = f"ORD{control[1:]}"
            bundle = container.search.search("DiagnosticReport", [("identifier", order)], base_url="http://t")
            assert bundle["total"] == 1, (control, bundle["total"])
        with container.store.unit_of_work(read_only=True) as uow:
            log = uow.messages(statuses=("processed", "duplicate", "received", "failed"), limit=10_000)
        processed = {m.control_id for m in log if m.status == "processed"}
        assert processed == {control for control, _ in payloads}
        assert not [m for m in log if m.status == "failed"]
        provenance = container.search.search("Provenance", [("_count", "1000")], base_url="http://t")
        sources = [e["resource"]["entity"][0]["what"]["identifier"]["value"] for e in provenance.get("entry", [])]
        processed_ids = {str(m.message_id) for m in log if m.status == "processed"}
        assert sorted(sources) == sorted(processed_ids)  # one Provenance per processed message, none for the rest
    finally:
        container.close()

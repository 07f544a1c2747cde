"""The MLLP listener as a real process, driven by python-hl7's MLLP client and `mllp_send`."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import hl7
from hl7.client import MLLPClient

from tests.feeds import messages

SB, EB = b"\x0b", b"\x1c\x0d"


def _read_ack(connection: socket.socket) -> bytes:
    data = b""
    while EB not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _msa(ack: bytes | str) -> list[str]:
    text = ack.decode() if isinstance(ack, bytes) else ack
    parsed = hl7.parse(text.strip("\x0b\x1c\r\n"))
    return [str(field) for field in parsed.segment("MSA")]


def test_an_admission_is_acknowledged_aa_with_a_mirrored_header(listener):
    with MLLPClient("127.0.0.1", listener.port) as client:
        ack = client.send_message(messages.adt("A01", "CTRL1"))
    parsed = hl7.parse(ack.decode().strip("\x0b\x1c\r\n"))
    msh = parsed.segment("MSH")
    assert str(msh[3]) == "TESSERA" and str(msh[5]) == "LAB"  # sending and receiving swapped
    assert str(msh[12]) == "2.5.1"
    assert _msa(ack)[1:3] == ["AA", "CTRL1"]
    container = listener.container()
    try:
        bundle = container.search.search("Patient", [("identifier", "MRN001")], base_url="http://t")
        assert bundle["total"] == 1
    finally:
        container.close()


def test_an_invalid_message_gets_ae_with_an_err_segment(listener):
    with MLLPClient("127.0.0.1", listener.port) as client:
        ack = client.send_message(messages.without_pid3("BAD1")).decode()
    assert _msa(ack)[1:3] == ["AE", "BAD1"]
    err = hl7.parse(ack.strip("\x0b\x1c\r\n")).segment("ERR")
    assert "PID" in str(err) and "101" in str(err)


def test_garbage_is_refused_ar_and_the_connection_keeps_working(listener):
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(b"noise before any frame" + SB + b"\x00\xffgarbage bytes" + EB)
        assert _msa(_read_ack(connection))[1] == "AR"
        connection.sendall(SB + messages.oru("AFTER1").encode() + EB)
        assert _msa(_read_ack(connection))[1:3] == ["AA", "AFTER1"]


def test_several_messages_in_one_write_and_one_message_in_many_writes(listener):
    first, second = messages.oru("MULTI1", order="O1").encode(), messages.oru("MULTI2", order="O2").encode()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(SB + first + EB + SB + second + EB)
        acks = b""
        while acks.count(EB) < 2:
            acks += connection.recv(65536)
        assert b"MULTI1" in acks and b"MULTI2" in acks
        payload = SB + messages.oru("SLOW1", order="O3").encode() + EB
        for index in range(0, len(payload), 7):
            connection.sendall(payload[index:index + 7])
        assert _msa(_read_ack(connection))[1:3] == ["AA", "SLOW1"]


def test_a_client_that_disconnects_mid_message_stores_nothing_of_it(listener):
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(SB + messages.adt("A01", "HALF1", mrn="HALF")[:80].encode())
    with MLLPClient("127.0.0.1", listener.port) as client:
        assert _msa(client.send_message(messages.oru("NEXT1")))[1] == "AA"
    container = listener.container()
    try:
        assert container.search.search("Patient", [("identifier", "HALF")], base_url="http://t")["total"] == 0
    finally:
        container.close()


def _read_acks(connection: socket.socket, count: int) -> list[bytes]:
    data = b""
    while data.count(EB) < count:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return [frame + EB for frame in data.split(EB) if frame.strip()]


def test_an_oversized_message_is_refused_kept_and_the_messages_around_it_go_through(listener_factory):
    small = listener_factory(TESSERA_MLLP_MAX_MESSAGE_BYTES="2000")
    small.start()
    big = messages.adt("A01", "BIG1").replace("Doe^Jane", "Doe^" + "J" * 5000)
    before = messages.oru("BEFORE1", order="OB1")
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as connection:
        connection.sendall(SB + before.encode() + EB + SB + big.encode() + EB)  # one write
        first, second = _read_acks(connection, 2)
        assert _msa(first)[1:3] == ["AA", "BEFORE1"]
        assert _msa(second)[1:3] == ["AR", "BIG1"], "the refusal names the refused message"
        assert "exceeds 2000 bytes" in second.decode()
        connection.sendall(SB + messages.oru("AFTER2", order="OA2").encode() + EB)
        assert _msa(_read_ack(connection))[1:3] == ["AA", "AFTER2"]
    container = small.container()
    try:
        [kept] = [m for m in container.feeds.failed() if m.control_id == "BIG1"]
        assert kept.status == "truncated" and "exceeds 2000 bytes" in kept.reason and len(kept.raw) == 2000
    finally:
        container.close()


def test_a_start_byte_inside_a_message_gets_one_answer_and_both_parts_are_kept(listener):
    broken = messages.adt("A01", "CUT1").replace("Doe^Jane", "D\x0boe^Jane")
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(SB + broken.encode() + EB + SB + messages.oru("NEXT1", order="ON1").encode() + EB)
        refused, following = _read_acks(connection, 2)
        assert _msa(refused)[1] == "AR" and _msa(following)[1:3] == ["AA", "NEXT1"]
    container = listener.container()
    try:
        queue = {m.status: m for m in container.feeds.failed()}
        assert queue["truncated"].control_id == "CUT1" and queue["truncated"].raw.endswith(b"|D")
        assert queue["rejected"].raw.startswith(b"oe^Jane")
    finally:
        container.close()


def test_concurrent_senders_are_all_acknowledged_and_stored_once(listener):
    results: dict[str, str] = {}

    def send(worker: int) -> None:
        with MLLPClient("127.0.0.1", listener.port) as client:
            for index in range(15):
                control = f"W{worker}-{index}"
                ack = client.send_message(messages.oru(control, mrn=f"MRN{worker}", order=f"O{worker}-{index}"))
                results[control] = _msa(ack)[1]

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 60 and set(results.values()) == {"AA"}
    container = listener.container()
    try:
        assert container.search.search("DiagnosticReport", [("_summary", "count")], base_url="http://t")["total"] == 60
        assert container.search.search("Patient", [("_summary", "count")], base_url="http://t")["total"] == 4
    finally:
        container.close()


def test_mllp_send_command_from_python_hl7_delivers_a_file(listener, tmp_path: Path):
    message_file = tmp_path / "adt.hl7"
    message_file.write_text(messages.adt("A04", "FILE1", mrn="FROMFILE").replace("\r", "\r\n"))
    command = str(Path(sys.executable).with_name("mllp_send"))
    result = subprocess.run([command, "--loose", "--port", str(listener.port), "--file", str(message_file),
                             "127.0.0.1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "AA" in result.stdout
    container = listener.container()
    try:
        assert container.search.search("Patient", [("identifier", "FROMFILE")], base_url="http://t")["total"] == 1
    finally:
        container.close()

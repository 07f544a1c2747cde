"""TLS when configured: the API serves HTTPS and the MLLP listener speaks MLLP over TLS."""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.feeds import messages
from tests.feeds.conftest import free_port

TESSERA = str(Path(sys.executable).with_name("tessera"))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def test_api_and_mllp_use_tls_when_configured(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path), "TESSERA_DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
           "TESSERA_API_TLS_CERT": str(cert), "TESSERA_API_TLS_KEY": str(key),
           "TESSERA_MLLP_TLS_CERT": str(cert), "TESSERA_MLLP_TLS_KEY": str(key)}
    api_port, mllp_port = free_port(), free_port()
    api = subprocess.Popen([TESSERA, "serve", "--port", str(api_port)], env=env, stderr=subprocess.PIPE)
    try:
        _wait_for(api_port, api)
        assert httpx.get(f"https://127.0.0.1:{api_port}/healthz", verify=str(cert)).status_code == 200
        plain = httpx.Client(timeout=5)
        try:
            plain.get(f"http://127.0.0.1:{api_port}/healthz")
            assert False, "plain HTTP must not be served"
        except httpx.HTTPError:
            pass
    finally:
        api.terminate()
        api.wait(10)
    mllp = subprocess.Popen([TESSERA, "mllp", "--port", str(mllp_port)], env=env, stderr=subprocess.PIPE)
    try:
        _wait_for(mllp_port, mllp)
        context = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", mllp_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as secure:
            secure.sendall(b"\x0b" + messages.adt("A01", "TLS1").encode() + b"\x1c\x0d")
            ack = b""
            while b"\x1c\x0d" not in ack:
                ack += secure.recv(65536)
        assert b"|AA|TLS1" in ack
    finally:
        mllp.terminate()
        mllp.wait(10)

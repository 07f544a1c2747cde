"""Asyncio MLLP listener: frame, hand each message to the feed service, answer with its ACK.

Each connection processes its messages one at a time (ACKs stay in order); the socket is not
read while a message is processed, so a slow store slows the sender (TCP back-pressure) and
nothing is dropped. Connections are served concurrently on a bounded thread pool; several
listener processes can share one port (adapters.mllp.processes).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from engine.feeds.service import FeedService
from adapters.feeds.hl7v2_translator import acknowledgement
from adapters.mllp.framing import AbandonedFrame, FrameReader, OversizedFrame
from adapters.mllp.processes import Balancer

log = logging.getLogger("tessera.mllp")


class MllpServer:
    """Serves HL7 v2 over MLLP (optionally TLS)."""

    def __init__(self, feeds: FeedService, *, max_message_bytes: int = 8 * 1024 * 1024, workers: int = 8,
                 ssl_context: ssl.SSLContext | None = None, idle_timeout_s: float = 300.0):
        self.feeds = feeds
        self.max_message_bytes = max_message_bytes
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mllp")
        self.ssl_context = ssl_context
        self.idle_timeout_s = idle_timeout_s
        self._ack_ids = itertools.count(1)
        self._ack_prefix = uuid.uuid4().hex[:8]
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> asyncio.base_events.Server:
        """Bind and start accepting connections."""
        self.server = await asyncio.start_server(self._connection, host, port, ssl=self.ssl_context,
                                                 limit=2 ** 16)
        return self.server

    def _next_ack_id(self) -> str:
        return f"{self._ack_prefix}{next(self._ack_ids):010d}"

    def _process(self, payload: bytes | OversizedFrame | AbandonedFrame, peer: str) -> bytes | None:
        if isinstance(payload, AbandonedFrame):  # kept in the error queue, unanswered: it never ended
            self.feeds.reject(payload.head, payload.reason, peer=peer)
            return None
        if isinstance(payload, OversizedFrame):  # kept in the error queue; the AR mirrors its header
            outcome = self.feeds.reject(payload.head, payload.reason, peer=peer)
            return acknowledgement(payload.head, outcome, self._next_ack_id())
        outcome = self.feeds.receive(payload, peer=peer)
        return acknowledgement(payload, outcome, self._next_ack_id())

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else "unknown"
        frames = FrameReader(self.max_message_bytes)
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout=self.idle_timeout_s)
                except asyncio.TimeoutError:
                    break
                if not data:
                    break
                for payload in frames.feed(data):
                    started = time.perf_counter()
                    ack = await loop.run_in_executor(self.pool, self._process, payload, peer)
                    if ack is None:
                        continue
                    writer.write(FrameReader.frame(ack))
                    await writer.drain()
                    log.debug("message acknowledged in %.1f ms", (time.perf_counter() - started) * 1000)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.info("connection from %s ended: %s", peer, type(exc).__name__)
        finally:
            if frames.buffer:
                log.info("connection from %s closed with %d bytes of an unfinished message", peer, len(frames.buffer))
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass

    async def serve_shared(self, sock: socket.socket, balancer: Balancer) -> None:
        """Accept on a listening socket shared with other listener processes, taking turns by load; run forever."""
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        connections: set[asyncio.Task] = set()
        while True:
            if not balancer.my_turn():
                await asyncio.sleep(0.005)
                continue
            readable.clear()
            loop.add_reader(sock.fileno(), readable.set)
            try:
                await readable.wait()
            finally:
                loop.remove_reader(sock.fileno())
            if not balancer.my_turn():  # a less busy listener takes this one
                continue
            try:
                connection, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another listener was quicker
            except OSError as exc:  # e.g. out of file descriptors: keep serving the open connections
                log.warning("accepting a connection failed: %s", type(exc).__name__)
                await asyncio.sleep(0.1)
                continue
            balancer.opened()
            task = loop.create_task(self._accepted(connection, balancer))
            connections.add(task)
            task.add_done_callback(connections.discard)

    async def _accepted(self, connection: socket.socket, balancer: Balancer) -> None:
        loop = asyncio.get_running_loop()
        try:
            connection.setblocking(False)
            reader = asyncio.StreamReader(limit=2 ** 16, loop=loop)
            protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
            try:
                transport, _ = await loop.connect_accepted_socket(lambda: protocol, connection, ssl=self.ssl_context)
            except (ConnectionError, ssl.SSLError, OSError) as exc:
                log.info("connection setup failed: %s", type(exc).__name__)
                connection.close()
                return
            await self._connection(reader, asyncio.StreamWriter(transport, protocol, reader, loop))
        finally:
            balancer.closed()

    async def serve_forever(self, host: str, port: int) -> None:
        """Run until cancelled."""
        server = await self.start(host, port)
        async with server:
            await server.serve_forever()

    def close(self) -> None:
        """Stop accepting and release the worker threads."""
        if self.server is not None:
            self.server.close()
        self.pool.shutdown(wait=True)


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2+) from a certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context

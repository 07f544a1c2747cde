"""Several MLLP listener processes on one port (Python runs one thread at a time per process).

The parent binds the port once and forks the listeners, which share the listening socket; the port
accepts connections once every listener is ready. A
listener only accepts while it serves no more connections than the least busy one, so long-lived
sender connections spread evenly. Each listener has its own store connections and thread pool.
Listeners die with the parent (a crash of the parent leaves no orphan holding the port); when one
listener exits, the others are stopped and the parent exits with its status, for the supervisor
(systemd, Docker) to restart the whole set.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tessera.mllp")
_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Balancer:
    """Shared connection counts: listener `slot` takes a new connection only when it is among the least busy."""

    def __init__(self, counts: Any, slot: int, ready: Any = None, listening: Any = None):
        self.counts = counts
        self.slot = slot
        self._ready = ready
        self._listening = listening

    def started(self) -> None:
        """Tell the parent this listener can serve; return once the port accepts connections."""
        if self._ready is not None:
            self._ready.release()
            self._listening.wait()

    def my_turn(self) -> bool:
        """True when this listener serves no more connections than any other."""
        with self.counts.get_lock():
            return self.counts[self.slot] <= min(self.counts[:])

    def opened(self) -> None:
        """Count a connection this listener accepted."""
        with self.counts.get_lock():
            self.counts[self.slot] += 1

    def closed(self) -> None:
        """Count a connection this listener finished."""
        with self.counts.get_lock():
            self.counts[self.slot] -= 1


def bound_socket(host: str, port: int) -> socket.socket:
    """The shared, non-blocking socket, bound but not yet listening (connections are refused until then)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the listener notices the parent's exit when it next accepts
        pass
    if os.getppid() != parent:
        os._exit(1)


def _listener(serve: Callable[[socket.socket, Balancer], None], sock: socket.socket, balancer: Balancer,
              parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # forked with the parent's handlers, and these signals blocked
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; a terminal's ^C reaches every process
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _die_with_parent(parent)
    serve(sock, balancer)


def run_processes(host: str, port: int, processes: int, serve: Callable[[socket.socket, Balancer], None]) -> int:
    """Bind `host:port`, fork `processes` listeners running `serve(sock, balancer)`; return when one ends.

    The port accepts connections once every listener called `balancer.started()`.
    """
    context = multiprocessing.get_context("fork")
    counts = context.Array("i", processes)
    ready, listening = context.Semaphore(0), context.Event()
    parent = os.getpid()
    children: list[Any] = []
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()

    previous = {s: signal.signal(s, stop) for s in _STOP_SIGNALS}
    try:
        sock = bound_socket(host, port)
        children.extend(context.Process(target=_listener, name=f"mllp-{slot}", args=(
            serve, sock, Balancer(counts, slot, ready, listening), parent)) for slot in range(processes))
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)  # until each listener has its own handlers
        try:
            for child in children:
                child.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        started = [child for child in children if child.pid is not None]
        waiting = len(started)
        while waiting and not stopping and all(child.is_alive() for child in started):
            if ready.acquire(timeout=0.2):
                waiting -= 1
        if not waiting and not stopping:
            sock.listen(256)
            listening.set()
            multiprocessing.connection.wait([child.sentinel for child in started])
        if not stopping:
            log.error("an MLLP listener process ended; stopping the others")
        for child in started:
            if child.is_alive():
                child.terminate()
        for child in started:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join(5)
        sock.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if stopping else next((c.exitcode or 1 for c in children if c.exitcode), 1)

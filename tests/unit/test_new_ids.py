"""Server-assigned ids are random version-4 UUIDs, distinct across threads and forked processes."""
from __future__ import annotations

import os
import threading
import uuid

import pytest

from engine.services.writes import new_id


def test_ids_are_version_4_uuids_and_never_repeat():
    ids = [new_id() for _ in range(2000)]  # several refills of the random pool
    assert len(set(ids)) == len(ids)
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_threads_draw_distinct_ids():
    found: list[list[str]] = [[], []]

    def draw(slot: int) -> None:
        found[slot].extend(new_id() for _ in range(500))

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(found[0]) & set(found[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_the_parents_next_ids():
    new_id()  # the pool now holds unused random bytes that a fork copies
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(20)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_ids = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    assert len(child_ids) == 20
    assert not child_ids & {new_id() for _ in range(20)}

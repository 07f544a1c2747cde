"""What only the embedded index does: durable tombstones, one file shared by threads and processes."""
from __future__ import annotations

import threading
from pathlib import Path

from engine.indexing.model import Deletion, IndexFilter
from adapters.search.embedded_index import EmbeddedIndex
from tests.search_index.builders import DIMENSIONS, axis, indexed

EVERYTHING = IndexFilter()


def test_documents_and_tombstones_survive_reopening(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path / "search.db", DIMENSIONS)
    index.apply([indexed("Condition/kept", text="Gout.", vector=axis(1)), indexed("Condition/gone", 2)], [])
    index.apply([], [Deletion("Condition", "gone", 3)])
    index.close()
    reopened = EmbeddedIndex(tmp_path / "search.db", DIMENSIONS)
    assert reopened.apply([indexed("Condition/gone", 2)], []).stale == 1
    assert [hit.key for hit in reopened.meaning(axis(1), EVERYTHING, 5)] == ["Condition/kept"]
    assert [hit.key for hit in reopened.words("gout", EVERYTHING, 5)] == ["Condition/kept"]
    reopened.close()


def test_a_write_through_another_connection_is_seen_by_meaning(tmp_path: Path) -> None:
    reader = EmbeddedIndex(tmp_path / "search.db", DIMENSIONS)
    writer = EmbeddedIndex(tmp_path / "search.db", DIMENSIONS)
    reader.apply([indexed("Condition/first", vector=axis(1))], [])
    assert [hit.key for hit in reader.meaning(axis(2), EVERYTHING, 5)] == ["Condition/first"]
    writer.apply([indexed("Condition/second", vector=axis(2))], [Deletion("Condition", "first", 2)])
    assert [hit.key for hit in reader.meaning(axis(2), EVERYTHING, 5)] == ["Condition/second"]
    reader.close()
    writer.close()


def test_searches_and_an_indexing_thread_share_the_index(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path / "search.db", DIMENSIONS)
    failures: list[BaseException] = []
    done = threading.Event()

    def indexing() -> None:
        try:
            for batch in range(40):
                documents = [indexed(f"Condition/c{batch}-{n}", text="Gout flare.",
                                     vector=axis(n % DIMENSIONS)) for n in range(10)]
                deletions = [Deletion("Condition", f"c{batch - 1}-0", 2)] if batch else []
                index.apply(documents, deletions)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)
        finally:
            done.set()

    def searching() -> None:
        try:
            while not done.is_set():
                index.words("gout", EVERYTHING, 20)
                index.meaning(axis(3), IndexFilter(patients=("Patient/p1",)), 20)
                index.count_words("flare", EVERYTHING)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=indexing)] + [threading.Thread(target=searching) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sum(1 for _ in index.versions()) == 40 * 10 - 39
    assert len(index.meaning(axis(3), EVERYTHING, 1000)) == 40 * 10 - 39
    index.close()

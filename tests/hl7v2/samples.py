"""The shared HL7 v2 sample corpus (read by tests only, never by the product)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from adapters.hl7v2 import parse_message
from adapters.hl7v2.messages import HANDLERS
from tests.conftest import shared_data


def sample_root() -> Path:
    """/work/shared/data/hl7v2 (fails the test when missing)."""
    return shared_data("hl7v2")


@lru_cache(maxsize=1)
def all_samples() -> tuple[Path, ...]:
    """Every HL7 v2 message file of the corpus (.hl7 / .txt), sorted."""
    root = sample_root()
    return tuple(sorted(p for p in root.rglob("*") if p.suffix in (".hl7", ".txt") and p.is_file()))


def is_supported(path: Path) -> bool:
    """True when the message's MSH-9 type^trigger is one the adapter maps."""
    header = parse_message(path.read_bytes()).header
    entry = HANDLERS.get(header.message_type.upper())
    return entry is not None and header.trigger_event.upper() in entry[0]


@lru_cache(maxsize=1)
def supported_samples() -> tuple[Path, ...]:
    """The sample messages whose type^trigger is supported."""
    return tuple(path for path in all_samples() if is_supported(path))


def relative(path: Path) -> str:
    """The path relative to the corpus root (for test ids and reports)."""
    return str(path.relative_to(sample_root()))

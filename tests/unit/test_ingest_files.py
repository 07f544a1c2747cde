"""`tessera ingest` walks folders: a folder it cannot read is reported, never skipped in silence."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.cli.ingest import Files


def test_a_folder_that_cannot_be_read_is_reported_and_the_rest_is_walked(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.hl7").write_text("MSH|")
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "y.ndjson").write_text("{}")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":  # as an unprivileged user would meet a mode-000 folder
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors: list[tuple[str, str]] = []
    found = list(Files([str(tmp_path)], on_error=lambda where, why: errors.append((where, why))))
    assert found == [tmp_path / "open" / "y.ndjson"]
    assert errors == [(str(tmp_path / "locked"),
                       "folder cannot be read (Permission denied); nothing in it was loaded")]

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


def test_an_issue_names_its_location_once():
    from engine.feeds.model import FeedIssue
    from adapters.cli.ingest import _described

    issues = [FeedIssue("PV1", 1, 19, "101", "PV1-19 (visit number) is missing"),
              FeedIssue("PV1", 1, 1, "102", "PV1-19 names no visit"),
              FeedIssue("MSH", 1, 10, "205", "control id 7 was used before"),
              FeedIssue("MSH", 1, None, "207", "could not be stored")]
    assert _described(issues) == ("PV1-19 (visit number) is missing; PV1-1 PV1-19 names no visit; "
                                  "MSH-10 control id 7 was used before; MSH could not be stored")

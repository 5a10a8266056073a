"""Replays into CSV files: deterministic bytes, and a progress bar on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from finance.ledger import COLUMNS
from finance.replay import replay
from finance.source import RecorderStore
from finance.tests.scenario import Books
from headstore.settings import Settings


def sources(books: Books) -> list[RecorderStore]:
    return [
        RecorderStore(books.billing.recorder, "billing"),
        RecorderStore(books.payouts.recorder, "payouts"),
    ]


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_two_replays_of_the_same_stores_are_byte_identical(standard: Books, tmp_path: Path) -> None:
    settings = Settings(persistence="memory")
    first = replay(
        settings, tmp_path / "a", quiet=True, projection=False, sources=sources(standard)
    )
    second = replay(
        settings, tmp_path / "b", quiet=True, projection=False, sources=sources(standard)
    )
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert sorted(files(tmp_path / "a")) == sorted(f"{name}.csv" for name in COLUMNS)
    assert (first.sessions, first.transfers) == (second.sessions, second.transfers) == (5, 7)
    data = (tmp_path / "a" / "sessions.csv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    assert data.splitlines()[0] == b",".join(c.encode() for c in COLUMNS["sessions"])
    assert b"." not in (tmp_path / "a" / "currencies.csv").read_bytes()  # integers only


def test_a_replay_replaces_the_files_with_the_stores_as_they_are_now(
    books: Books, tmp_path: Path
) -> None:
    settings = Settings(persistence="memory")
    books.session("s-1")
    replay(settings, tmp_path, quiet=True, projection=False, sources=sources(books))
    assert (tmp_path / "sessions.csv").read_text().count("\n") == 2
    books.session("s-2")
    result = replay(settings, tmp_path, quiet=True, projection=False, sources=sources(books))
    assert (tmp_path / "sessions.csv").read_text().count("\n") == 3
    assert result.heads == {"billing": books.billing.recorder.max_notification_id(), "payouts": 0}
    assert not list(tmp_path.glob("*.partial"))


def test_the_progress_bar_counts_the_events_read_on_stderr(
    standard: Books, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(persistence="memory")
    result = replay(settings, tmp_path, quiet=False, projection=False, sources=sources(standard))
    total = sum(result.heads.values())
    err = capsys.readouterr().err
    assert f"{total}/{total}" in err
    replay(settings, tmp_path, quiet=True, projection=False, sources=sources(standard))
    assert capsys.readouterr().err == ""

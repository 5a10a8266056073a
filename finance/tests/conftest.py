from __future__ import annotations

from collections.abc import Iterator

import pytest

from finance.tests.scenario import Books, standard_books


@pytest.fixture
def books() -> Iterator[Books]:
    kept = Books()
    try:
        yield kept
    finally:
        kept.close()


@pytest.fixture
def standard(books: Books) -> Books:
    return standard_books(books)

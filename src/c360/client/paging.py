"""Pages: the items of a paged answer as one iterator, fetching each page when reached."""

from collections.abc import Callable, Iterator
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Page(NamedTuple, Generic[T]):
    items: list[T]
    cursor: str | None
    """Where the following page starts."""
    more: bool
    """Whether to ask for the following page."""


class Pages(Iterator[T], Generic[T]):
    """Every item across pages, in the server's order.

    The first page is fetched when the iterator is made, so a refused request (unknown
    profile, bad parameter) raises where the method was called; later pages are fetched only
    when iteration reaches them. Once iteration has ended, ``cursor`` is where to resume
    (the change feed's ``next``); None where the API has no such position.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]], cursor: str | None = None) -> None:
        self._fetch = fetch
        self._page = fetch(cursor)
        self._at = 0
        self.pages = 1
        """How many pages were fetched so far."""

    @property
    def cursor(self) -> str | None:
        return self._page.cursor

    def __iter__(self) -> "Pages[T]":
        return self

    def __next__(self) -> T:
        while self._at >= len(self._page.items):
            if not self._page.more:
                raise StopIteration
            page = self._fetch(self._page.cursor)
            if not page.items and page.cursor == self._page.cursor:
                page = page._replace(more=False)  # never ask for the same empty page forever
            self._page, self._at = page, 0
            self.pages += 1
        item = self._page.items[self._at]
        self._at += 1
        return item

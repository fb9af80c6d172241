"""Paging, as small state machines with no I/O (dlt's paginators, singer-sdk's ``advance``).

A :class:`Paginator` reads the answer to the request just sent and sets up the next one
(:class:`PageRequest`), or says the pages have ended (None). It refuses to loop: a token (cursor, URL,
offset, key) it has already handed out is an error, not another page. :func:`pages` is the loop that
sends: it is the only part that does I/O, and it stops after ``max_pages``.

    OffsetPaginator("offset", "limit", 100)    ?offset=0, 100, 200 … until a short page or ``total``
    CursorPaginator("paging.next.after", "after", in_body=True)   a cursor from the answer, sent back
    NextUrlPaginator("links.next")             the next page's URL in the answer's body
    LinkHeaderPaginator()                      RFC 8288 ``Link: <url>; rel="next"`` (GitHub, GitLab)
    KeysetPaginator("id", "after_id")          the last record's key: ``?after_id=<last id>``

A path into the answer is dotted (``paging.next.after``) or any function of the answer (a compiled
JMESPath's ``search``). A paginator declared on a source is a template: :meth:`Paginator.fresh` gives
each read its own state.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from okrsync.sdk.http import ApiClient, HttpError, decoded

Path = str | Callable[[Any], Any]  # a dotted path into a JSON answer, or a function of it


def find(data: Any, path: Path) -> Any:
    """The value at ``path`` in ``data``; None when a step is missing."""
    if callable(path):
        return path(data)
    for part in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(frozen=True)
class PageRequest:
    """One page's request: a path (or an absolute URL on the connection's origin), query, JSON body."""

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None

    def sent_with(self) -> dict[str, Any]:
        """The keyword arguments of ``ApiClient.request`` for this page (``params``, ``json`` when set). A query
        already in ``url`` (a next-page link) is kept: httpx replaces a URL's query with ``params``, so it is
        moved into ``params`` here and the URL sent without it (:meth:`target`)."""
        own = httpx.URL(self.url).params
        extra: dict[str, Any] = {"params": own.merge(self.params) if own else dict(self.params)}
        if self.json is not None:
            extra["json"] = self.json
        return extra

    def target(self) -> str:
        """The URL to send, its own query moved into :meth:`sent_with`'s ``params``."""
        url = httpx.URL(self.url)
        return str(url.copy_with(query=None)) if url.query else self.url


@dataclass
class Paginator(ABC):
    """Answer in, next request out. Tokens already handed out are refused (a server looping on a page)."""

    _seen: set[str] = field(default_factory=set, init=False, repr=False)

    @abstractmethod
    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        """The request for the page after ``sent``, whose answer was ``data``; None when the pages end."""

    def fresh(self) -> Paginator:
        """This paginator's declaration with no pages seen: one per read."""
        return dataclasses.replace(self)

    def once(self, token: Any) -> Any:
        """``token``, unless it ends the pages (None, "") — then None — or was handed out before."""
        if token is None or token == "":
            return None
        key = repr(token)
        if key in self._seen:
            raise HttpError(
                f"the API returned the same page cursor twice ({token!r}): stopped to avoid a loop", kind="fatal"
            )
        self._seen.add(key)
        return token


@dataclass
class OffsetPaginator(Paginator):
    """``offset``/``limit`` parameters; ends on a page shorter than ``limit`` or at ``total`` (when given)."""

    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = 100
    items: Path = "results"
    total: Path | None = None

    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        offset = int(sent.params.get(self.offset_param, 0)) + self.limit
        total = find(data, self.total) if self.total is not None else None
        if len(find(data, self.items) or []) < self.limit or (total is not None and offset >= int(total)):
            return None
        offset = self.once(offset)
        return dataclasses.replace(
            sent, params={**sent.params, self.offset_param: offset, self.limit_param: self.limit}
        )


@dataclass
class CursorPaginator(Paginator):
    """A cursor at ``cursor`` in each answer, sent back as query parameter (or JSON body key) ``param``."""

    cursor: Path = "next"
    param: str = "cursor"
    in_body: bool = False

    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        token = self.once(find(data, self.cursor))
        if token is None:
            return None
        if self.in_body:
            return dataclasses.replace(sent, json={**(sent.json or {}), self.param: token})
        return dataclasses.replace(sent, params={**sent.params, self.param: token})


@dataclass
class NextUrlPaginator(Paginator):
    """The next page's URL at ``next`` in each answer; it carries its own query, so nothing else is resent."""

    next: Path = "next"

    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        url = self.once(find(data, self.next))
        return None if url is None else PageRequest(str(url))


_LINK = re.compile(r"<([^>]*)>\s*;([^,]*)")


def link_target(header: str, rel: str = "next") -> str | None:
    """The URL of relation ``rel`` in an RFC 8288 Link header (``<https://…?page=2>; rel="next", …``)."""
    for url, params in _LINK.findall(header):
        rels = re.search(r'rel\s*=\s*"?([^";]*)"?', params)
        if rels and rel in rels.group(1).split():
            return url.strip()
    return None


@dataclass
class LinkHeaderPaginator(Paginator):
    """The ``Link`` header's ``rel="next"`` URL; its absence ends the pages."""

    rel: str = "next"

    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        url = self.once(link_target(headers.get("link") or headers.get("Link") or "", self.rel))
        return None if url is None else PageRequest(url)


@dataclass
class KeysetPaginator(Paginator):
    """The last record's ``key`` sent as ``param`` (``?after_id=<last id>``); an empty page ends."""

    key: str = "id"
    param: str = "after"
    items: Path = "results"

    def advance(self, sent: PageRequest, data: Any, headers: Mapping[str, str]) -> PageRequest | None:
        records = find(data, self.items) or []
        if not records:
            return None
        last = self.once(find(records[-1], self.key))
        return None if last is None else dataclasses.replace(sent, params={**sent.params, self.param: last})


def pages(
    client: ApiClient,
    method: str,
    first: PageRequest,
    paginator: Paginator | None,
    *,
    max_pages: int = 1000,
    answered: Any = None,
    **kwargs: Any,
) -> Iterator[Any]:
    """Each page's JSON answer, first to last: the loop that sends (``kwargs``: headers, with every page).
    ``answered``: the first page's answer, already in hand (nothing is sent for it)."""
    paginator = paginator.fresh() if paginator else None
    request, data = first, answered
    headers: Mapping[str, str] = {}
    for _ in range(max_pages):
        if data is None:
            response = client.request(method, request.target(), **request.sent_with(), **kwargs)
            data, headers = decoded(response), response.headers
        yield data
        following = paginator.advance(request, data, headers) if paginator else None
        if following is None:
            return
        request, data = following, None
    raise HttpError(f"more than {max_pages} pages: stopped", kind="fatal")

"""Deep links: a page URL's query names a view (a source, a horizon, models), and a result gives the
query that reopens it.

    ?source=test&index=42&horizon=10
    ?source=generate&seed=5&digits=2&speed=2&horizon=12&model=default&compare=other

Parsing only turns the query's text into values: the values are checked where every request's are
(:func:`framepred.serving.pipeline.predict` and the sources), so a link and a click get the same
messages. Only a wrong ``source`` (or a query naming no source) is refused here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from .validate import shown

SOURCES = {"test": ("index",), "generate": ("seed", "digits", "speed")}  # what a link can reopen
OPTIONS = ("horizon", "model", "compare")


@dataclass(frozen=True)
class View:
    """What a link asks for; numbers as given (checked when the view is predicted), None = not given."""

    source: str  # a key of SOURCES
    values: dict  # the source's settings by name, e.g. {"index": 42.0}
    horizon: object = None
    model: str | None = None
    compare: str | None = None


def number(text):
    """A query value as a number when it reads as one (ASCII: "12", "2.5", "1e3"), else the text (its
    check then names it)."""
    if not isinstance(text, str) or not text.isascii():
        return text
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() else f  # (a message then says "got 9", as the link did)


def parse(query: Mapping[str, str]) -> View | None:
    """The view a URL query names; None when it names none (no ``source``, ``horizon``, ``model`` or
    ``compare``: the default view). ``ValueError`` for a source no link can reopen."""
    query = {k: v for k, v in dict(query).items() if k == "source" or k in OPTIONS or
             any(k in names for names in SOURCES.values())}
    if not query:
        return None
    source = query.get("source", "test")
    if source not in SOURCES:
        raise ValueError(f"Unknown source {shown(source)} in the link: use source=test or source=generate.")
    values = {name: number(query[name]) for name in SOURCES[source] if name in query}
    return View(source, values, number(query["horizon"]) if "horizon" in query else None,
                query.get("model") or None, query.get("compare") or None)


def query(link: dict | None, horizon: int, model: str | None = None, compare: str | None = None) -> str | None:
    """``?source=...&horizon=...[&model=...][&compare=...]`` reopening a result, or None when its
    source cannot be reopened from a URL (a drawing, an upload)."""
    if link is None:
        return None
    fields = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in link.items()}
    fields["horizon"] = horizon
    fields.update({k: v for k, v in (("model", model), ("compare", compare)) if v})
    return "?" + urlencode(fields)


def caption(result) -> str:
    """A result's source in words, with a link that reopens the view when its source allows
    (``result``: a :class:`framepred.serving.pipeline.Result`)."""
    keys = [r.key for r in result.runs]
    q = query(result.sequence.link, result.horizon, keys[0], keys[1] if len(keys) > 1 else None)
    text = f"**Source:** {result.sequence.label}"
    return text + (f" · [link to this view]({q})" if q else " (a drawing or an upload: no link reopens it)")

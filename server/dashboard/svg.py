"""A very small SVG builder: elements from data, every text and attribute escaped.

Pages carry a strict Content-Security-Policy (no scripts, no inline `style`), so charts are
inline SVG built on the server and styled only by presentation attributes and classes from
`static/style.css`. Names in a drawing come from participants (a space or dataset name, a
WebID), so nothing here trusts a string: text is escaped by `markupsafe`, and only what this
module built itself (a `Markup`) passes through unescaped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from markupsafe import Markup, escape

Child = str | Markup | None
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def element(tag: str, /, *children: Child | Iterable[Child], **attributes: object) -> Markup:
    """`<tag a="…">children</tag>`; `class_` stands for `class`, `_` in other names for `-`.

    Attributes whose value is None or False are left out; numbers are written compactly.
    `tag` and attribute names come from our code, never from data.
    """
    _check_name(tag)
    parts = [tag]
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        name = "class" if name == "class_" else name.replace("_", "-")
        _check_name(name)
        shown = _number(value) if isinstance(value, int | float) else escape(str(value))
        parts.append(f'{name}="{shown}"')
    inner = Markup("").join(_flatten(children))
    # Safe: names are checked above, values and text are escaped, `inner` is our own Markup.
    return Markup(f"<{' '.join(parts)}>{inner}</{tag}>")  # noqa: S704


def text(x: float, y: float, content: str, **attributes: object) -> Markup:
    return element("text", content, x=x, y=y, **attributes)


def fit(content: str, max_chars: int) -> str:
    """`content` cut to `max_chars` with an ellipsis (the full text goes in a `<title>`)."""
    return content if len(content) <= max_chars else content[: max(1, max_chars - 1)] + "…"


def drawing(
    width: int, height: int, title: str, description: str, *children: Child, id: str
) -> Markup:
    """An `<svg role="img">` that screen readers announce by its title and description."""
    return element(
        "svg",
        element("title", title, id=f"{id}-title"),
        element("desc", description, id=f"{id}-desc"),
        *children,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        role="img",
        aria_labelledby=f"{id}-title {id}-desc",
        class_="chart",
        id=id,
        preserveAspectRatio="xMidYMid meet",
    )


@functools.cache  # a handful of names, checked hundreds of times per drawing
def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"Not an SVG element or attribute name: {name!r}")


def _number(value: int | float) -> str:
    """Numbers need no escaping; coordinates need no more than a tenth of a unit."""
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(int(value))


def _flatten(children: Iterable[Child | Iterable[Child]]) -> Iterable[Markup]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, str):  # Markup is a str: escape() leaves it as it is
            yield escape(child)
        else:
            yield from _flatten(child)

"""The dashboard's drawings, as inline SVG: consents over time, runs and their verdicts, data flow.

Colours and fonts come from classes in `static/style.css` (the CSP allows no inline style); each
drawing has a `<title>` and `<desc>` that say in words what it shows, and the page puts the same
figures in a table under it.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from markupsafe import Markup

from .figures import Consumer, Day, Flow, Provider
from .svg import drawing, element, fit, text

_W, _H = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 34, 40


def consents_chart(days: list[Day]) -> Markup:
    """Bars of consents given, withdrawn and expired each day; a step line of those in force."""
    top = _nice(max(max(d.in_force, d.given, d.withdrawn, d.expired) for d in days))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / len(days)
    bar = max(1.0, min(16.0, (slot - 4) / 3))

    def y(v: float) -> float:
        return _TOP + plot_h - plot_h * v / top

    bars, points = [], []
    for i, d in enumerate(days):
        x0 = _LEFT + i * slot + (slot - 3 * bar) / 2
        for k, (value, kind) in enumerate(
            ((d.given, "given"), (d.withdrawn, "withdrawn"), (d.expired, "expired"))
        ):
            if value:
                bars.append(_bar(x0 + k * bar, y(value), bar, y(0) - y(value), f"bar-{kind}"))
        # A step: the count holds through the day (it is the count at the day's end).
        points += [(_LEFT + i * slot, y(d.in_force)), (_LEFT + (i + 1) * slot, y(d.in_force))]
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    last = days[-1]
    return drawing(
        _W,
        _H,
        "Consents over time",
        f"{len(days)} days from {_day(days[0].day)} to {_day(last.day)}: "
        f"{sum(d.given for d in days)} given, {sum(d.withdrawn for d in days)} withdrawn, "
        f"{sum(d.expired for d in days)} expired; {last.in_force} in force now.",
        _y_axis(top, y, "people"),
        _x_labels([d.day for d in days], slot),
        *bars,
        element("polyline", points=line, class_="line-in-force"),
        element("circle", cx=points[-1][0], cy=points[-1][1], r=4, class_="dot-in-force"),
        _legend(
            [
                ("line-in-force", "In force"),
                ("bar-given", "Given"),
                ("bar-withdrawn", "Withdrawn"),
                ("bar-expired", "Expired"),
            ]
        ),
        id="consents-chart",
    )


def runs_chart(runs: list, first: int = 1) -> Markup:
    """One bar per run: how many people it read (of how many it included), coloured by verdict.
    `first` is the number of the first run shown (the chart shows the latest ones)."""
    top = _nice(max(max(r.individuals_included, r.individuals_read) for r in runs))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / max(len(runs), 4)
    width = min(48.0, slot * 0.6)

    def y(v: float) -> float:
        return _TOP + plot_h - plot_h * v / top

    marks = []
    for i, r in enumerate(runs):
        x = _LEFT + i * slot + (slot - width) / 2
        label = (
            f"Run {first + i}: {r.outcome}, read {r.individuals_read} of {r.individuals_included}"
        )
        marks.append(
            element(
                "g",
                element("title", label),
                _bar(
                    x,
                    y(r.individuals_included),
                    width,
                    y(0) - y(r.individuals_included),
                    "bar-included",
                ),
                _bar(
                    x,
                    y(r.individuals_read),
                    width,
                    y(0) - y(r.individuals_read),
                    f"outcome-{r.outcome.lower()}",
                ),
                text(
                    x + width / 2,
                    y(r.individuals_read) - 6,
                    str(r.individuals_read),
                    text_anchor="middle",
                    class_="value",
                ),
                text(
                    x + width / 2,
                    _H - _BOTTOM + 18,
                    f"#{first + i}",
                    text_anchor="middle",
                    class_="tick",
                ),
            )
        )
    seen = sorted({r.outcome for r in runs})
    return drawing(
        _W,
        _H,
        "Runs and their gate verdicts",
        f"{len(runs)} runs: "
        + "; ".join(f"{sum(r.outcome == o for r in runs)} {o.lower()}" for o in seen)
        + ". Bar height: individuals read.",
        _y_axis(top, y, "individuals read"),
        *marks,
        _legend([("bar-included", "Included")] + [(f"outcome-{o.lower()}", o) for o in seen]),
        id="runs-chart",
    )


# --- The data flow ----------------------------------------------------------------------------

_FW, _PAD, _GAP = 960, 20, 14
_COLUMNS = ((10, 290), (365, 250), (690, 260))  # (x, width): providers, datacage, consumers


def flow_drawing(space_name: str, flow: Flow) -> Markup:
    """Data providers -> the datacage (algorithm, attestation) -> data consumers."""
    left = [_people_node(flow.individuals)] if flow.individuals is not None else []
    left += [_provider_node(p) for p in flow.providers]
    right = [_consumer_node(c) for c in flow.consumers]
    if not left:
        left = [_empty_node("No data provider yet")]
    if not right:
        right = [_empty_node("No data consumer yet")]
    middle = [_cage_node(flow)]
    height = max(_column_height(c) for c in (left, middle, right)) + 2 * _PAD + 30
    placed = [
        _place(column, x, w, height)
        for column, (x, w) in zip((left, middle, right), _COLUMNS, strict=True)
    ]
    (cage_box,) = [box for box, _ in placed[1]]
    edges = [_edge(box, cage_box, i, len(placed[0])) for i, (box, _) in enumerate(placed[0])]
    edges += [_edge(cage_box, box, i, len(placed[2])) for i, (box, _) in enumerate(placed[2])]
    heads = [
        text(x + w / 2, 22, title, text_anchor="middle", class_="column-head")
        for (x, w), title in zip(
            _COLUMNS, ("Data providers", "Datacage", "Data consumers"), strict=True
        )
    ]
    return drawing(
        _FW,
        height,
        f"How data flows in {space_name}",
        _flow_words(flow),
        element(
            "defs",
            element(
                "marker",
                element("path", d="M0,0 L10,5 L0,10 z", class_="arrowhead"),
                id="flow-arrow",
                viewBox="0 0 10 10",
                refX=9,
                refY=5,
                markerWidth=7,
                markerHeight=7,
                orient="auto-start-reverse",
            ),
        ),
        *heads,
        *edges,
        *[node for column in placed for _, node in column],
        id="flow-drawing",
    )


# A node is (height, draw(x, y, width) -> Markup) until it is placed in its column.


def _people_node(count: int):
    lines = [
        ("Individuals' pods", "node-title"),
        (f"{count} consent{'' if count == 1 else 's'} in force", "node-figure"),
        ("read by the datacage, with consent", "node-note"),
    ]
    return _box(lines, "node node-people", "Individuals' pods")


def _provider_node(p: Provider):
    name, where = _short(p.webid)
    lines = [(name, "node-title")] + ([(where, "node-note")] if where else [])
    shown = p.datasets[:3]
    lines += [(f"▪ {d}", "node-line") for d in shown]
    if len(p.datasets) > len(shown):
        lines.append((f"and {len(p.datasets) - len(shown)} more", "node-note"))
    if p.datasets:
        lines.append(("pushed encrypted to the datacage's key", "node-note"))
    else:
        lines.append(("no dataset pushed yet", "node-note"))
    return _box(lines, "node", p.webid)


def _consumer_node(c: Consumer):
    name, where = _short(c.webid)
    place = [(where, "node-note")] if where else []
    state = (
        "delivered"
        if c.delivery == "delivered"
        else ("failed" if c.delivery in ("failed", "destroyed unsent") else "waiting")
    )
    lines = [
        (name, "node-title"),
        *place,
        (f"● last run: {c.delivery}", f"node-line delivery-{state}"),
    ]
    return _box(lines, "node", c.webid)


def _cage_node(flow: Flow):
    if flow.algorithm is None:
        lines = [("Datacage", "node-title on-dark"), ("No algorithm yet", "node-line on-dark")]
    else:
        lines = [
            ("Datacage", "node-title on-dark"),
            (flow.algorithm, "node-line on-dark"),
            (fit(flow.digest or "", 23), "node-code on-dark"),
        ]
    head, _, rest = flow.attestation.partition(": ")
    kind = "attest-hardware" if flow.hardware else "attest-software"
    lines += [(head + (":" if rest else ""), f"node-line {kind}")]
    if rest:
        lines.append((rest, f"node-note {kind}"))
    lines.append(("only derived results leave", "node-note on-dark"))
    return _box(lines, "node node-cage", flow.digest or "No algorithm yet", chars=32, least=170)


def _empty_node(words: str):
    return _box([(words, "node-line")], "node node-empty", words)


_LINE = {"node-title": 22, "node-figure": 24, "node-line": 19, "node-code": 19, "node-note": 17}


def _box(lines: list[tuple[str, str]], kind: str, full: str, chars: int = 38, least: int = 0):
    content = 20 + sum(_LINE[c.split()[0]] for _, c in lines)
    height = max(content, least)

    def draw(x: float, y: float, w: float) -> Markup:
        rows, at = [], y + 8 + (height - content) / 2
        for words, cls in lines:
            at += _LINE[cls.split()[0]]
            rows.append(text(x + 14, at - 5, fit(words, chars), class_=cls))
        return element(
            "g", element("title", full), _rect(x, y, w, height, kind), *rows, class_="flow-node"
        )

    return height, draw


def _column_height(nodes) -> float:
    return sum(h for h, _ in nodes) + _GAP * (len(nodes) - 1)


def _place(nodes, x: float, w: float, height: float):
    y = 30 + (height - 30 - _column_height(nodes)) / 2
    placed = []
    for h, draw in nodes:
        placed.append(((x, y, w, h), draw(x, y, w)))
        y += h + _GAP
    return placed


def _edge(source, target, index: int, count: int) -> Markup:
    """A curve from the right side of `source` to the left side of `target`; several arrows
    meet the datacage (the taller of the two ends, or the single one) spread along its side."""
    sx, sy, sw, sh = source
    tx, ty, _, th = target
    spread = (index + 1) / (count + 1)
    if count > 1 and sh > th:  # fanning out of the datacage
        y1, y2 = sy + sh * (0.25 + 0.5 * spread), ty + th / 2
    elif count > 1:  # fanning into it
        y1, y2 = sy + sh / 2, ty + th * (0.25 + 0.5 * spread)
    else:
        y1, y2 = sy + sh / 2, ty + th / 2
    x1, x2 = sx + sw, tx - 2
    dx = (x2 - x1) / 2
    path = f"M{x1:.1f},{y1:.1f} C{x1 + dx:.1f},{y1:.1f} {x2 - dx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return element("path", d=path, class_="edge", marker_end="url(#flow-arrow)")


def _flow_words(flow: Flow) -> str:
    providers = []
    if flow.individuals is not None:
        providers.append(f"individuals' pods ({flow.individuals} consents in force)")
    providers += [
        f"{p.webid} ({len(p.datasets)} dataset{'' if len(p.datasets) == 1 else 's'})"
        for p in flow.providers
    ]
    cage = f"the algorithm {flow.algorithm}" if flow.algorithm else "no algorithm yet"
    consumers = [f"{c.webid} (last run: {c.delivery})" for c in flow.consumers]
    return (
        f"Data from {', '.join(providers) or 'no provider yet'} goes into the datacage, which "
        f"runs {cage} ({flow.attestation}); derived results go to "
        f"{', '.join(consumers) or 'no consumer yet'}."
    )


def _short(webid: str) -> tuple[str, str]:
    """A WebID as (name, where): the pod's name and its host, or the host alone."""
    parts = urlsplit(webid)
    segments = [s for s in parts.path.split("/") if s and s not in ("profile", "card")]
    if segments and parts.netloc:
        return segments[0], parts.netloc
    return parts.netloc or webid, ""


# --- Shared pieces ----------------------------------------------------------------------------


def _y_axis(top: int, y, title: str) -> Markup:
    step = max(1, top // 4)
    middle = _TOP + (_H - _TOP - _BOTTOM) / 2
    ticks = [
        text(
            12,
            middle,
            title,
            text_anchor="middle",
            class_="tick",
            transform=f"rotate(-90 12 {middle:.0f})",
        )
    ]
    for v in range(0, top + 1, step):
        ticks.append(element("line", x1=_LEFT, x2=_W - _RIGHT, y1=y(v), y2=y(v), class_="grid"))
        ticks.append(text(_LEFT - 8, y(v) + 4, str(v), text_anchor="end", class_="tick"))
    ticks.append(element("line", x1=_LEFT, x2=_W - _RIGHT, y1=y(0), y2=y(0), class_="axis"))
    return element("g", *ticks)


def _x_labels(days: list[date], slot: float) -> Markup:
    every = max(1, -(-len(days) // 7))
    labels = [
        text(
            _LEFT + (i + 0.5) * slot,
            _H - _BOTTOM + 18,
            _day(d),
            text_anchor="middle",
            class_="tick",
        )
        for i, d in enumerate(days)
        if i % every == 0 or (i == len(days) - 1 and i % every >= every / 2)
    ]
    return element("g", *labels)


def _legend(items: list[tuple[str, str]]) -> Markup:
    x, parts = _LEFT, []
    for cls, label in items:
        parts.append(_rect(x, 8, 14, 14, cls + " swatch"))
        parts.append(text(x + 20, 20, label, class_="legend"))
        x += 34 + 8 * len(label)
    return element("g", *parts)


def _bar(x: float, y: float, w: float, h: float, cls: str) -> Markup:
    return _rect(x, y, w, max(h, 0.0), cls)


def _rect(x: float, y: float, w: float, h: float, cls: str) -> Markup:
    return element(
        "rect",
        x=round(x, 1),
        y=round(y, 1),
        width=round(w, 1),
        height=round(h, 1),
        rx=3 if "node" in cls else None,
        class_=cls,
    )


def _nice(value: int) -> int:
    """A round top for an axis: 4, 8, 10, 20, 40, 50, 100..."""
    for top in (4, 8, 10, 20, 40, 50, 100, 200, 400, 500, 1000):
        if value <= top:
            return top
    return -(-value // 1000) * 1000


def _day(d: date) -> str:
    return f"{d.day} {d:%b}"

"""Charts drawn on the server as SVG (no script, no CDN): horizontal bars with their values.

>>> "<rect" in bars({"early": 3, "late": 1}, "loans")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

ROW, LABEL, WIDTH = 24, 150, 440


def bars(
    values: Mapping[str, float | int | None],
    title: str,
    *,
    percent: bool = False,
    codes: bool = False,
) -> str:
    """One bar per key, longest first as given; ``percent`` shows values (0..1) as %. The
    caller gives the title and the keys in the reader's language; ``codes`` says the keys are
    codes or ids (a rule, a collector), marked ``translate="no"``."""
    items = [(k, float(v or 0)) for k, v in values.items()]
    top = max((v for _, v in items), default=0.0) or 1.0
    height = ROW * max(len(items), 1) + 30
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="title">{escape(title)}</text>',
    ]
    mark = ' translate="no"' if codes else ""
    for k, (key, v) in enumerate(items):
        y = 24 + k * ROW
        w = (WIDTH - LABEL - 95) * v / top
        shown = f"{v:.1%}" if percent else (f"{v:,.0f}" if v == int(v) else f"{v:,.2f}")
        out.append(
            f'<text x="0" y="{y + 14}" class="label"{mark}>{escape(str(key))[:24]}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{w:.1f}" height="{ROW - 8}" '
            f'class="bar"><title>{escape(str(key))}: {shown}</title></rect>'
            f'<text x="{LABEL + w + 6:.1f}" y="{y + 14}" class="value">{shown}</text>'
        )
    if not items:
        out.append('<text x="0" y="40" class="label">—</text>')
    out.append("</svg>")
    return "".join(out)

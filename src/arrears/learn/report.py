"""``arrears learn report``: the judge's figures (``arrears learn evaluate --out``) as one HTML
page with its charts inside (matplotlib, PNG in the page: it opens offline): recovery curves
by policy, contacts per account, complaints per 10,000 contacts, cost per yuan recovered, and
each of them by hidden borrower type, so that recovery bought with pressure on borrowers in
hardship shows."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from arrears.learn.worlds import TYPES

POLICIES = ("champion", "learned")
COLOURS = {"champion": "#6b7280", "learned": "#2563eb"}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _by(runs: list[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    return [r for r in runs if r["policy"] == policy]


def _curves(runs: list[dict[str, Any]]) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for policy in POLICIES:
        mine = _by(runs, policy)
        if not mine:
            continue
        days = min(len(r["curve"]) for r in mine)
        owed = sum(r["owed"] for r in mine)
        pooled = [
            sum(r["curve"][d] * r["owed"] for r in mine) / owed if owed else 0.0
            for d in range(days)
        ]
        ax.plot(range(days), [100 * v for v in pooled], label=policy, color=COLOURS[policy])
    ax.set_xlabel("days since the account entered collection")
    ax.set_ylabel("arrears at entry recovered, %")
    ax.set_title("Recovery by day since entry, pooled over the worlds")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def _bars(runs: list[dict[str, Any]], key: str, title: str, unit: str) -> str:
    worlds = sorted({r["world"] for r in runs})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.4
    for k, policy in enumerate(POLICIES):
        values = []
        for w in worlds:
            found = [r for r in runs if r["world"] == w and r["policy"] == policy]
            values.append(found[0][key] if found else 0.0)
        xs = [i + (k - 0.5) * width for i in range(len(worlds))]
        ax.bar(xs, values, width, label=policy, color=COLOURS[policy])
    ax.set_xticks(range(len(worlds)))
    ax.set_xticklabels(worlds, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _types(runs: list[dict[str, Any]]) -> tuple[str, list[list[str]]]:
    """Recovery and contacts per account by hidden type, pooled, as a chart and a table."""
    rows = []
    rec: dict[str, list[float]] = {p: [] for p in POLICIES}
    for kind in TYPES:
        row = [kind]
        for policy in POLICIES:
            parts = [r["by_type"].get(kind, {}) for r in _by(runs, policy)]
            owed = sum(p.get("owed", 0) for p in parts)
            got = sum(p.get("recovered", 0) for p in parts)
            accounts = sum(p.get("accounts", 0) for p in parts)
            contacts = sum(p.get("contacts", 0) for p in parts)
            complaints = sum(p.get("complaints", 0) for p in parts)
            share = got / owed if owed else 0.0
            rec[policy].append(100 * share)
            row += [
                f"{share:.1%}",
                f"{contacts / accounts:.1f}" if accounts else "-",
                str(complaints),
            ]
        rows.append(row)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.4
    for k, policy in enumerate(POLICIES):
        xs = [i + (k - 0.5) * width for i in range(len(TYPES))]
        ax.bar(xs, rec[policy], width, label=policy, color=COLOURS[policy])
    ax.set_xticks(range(len(TYPES)))
    ax.set_xticklabels(TYPES)
    ax.set_ylabel("arrears recovered, %")
    ax.set_title("Recovery by hidden borrower type")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig), rows


def render(figures: dict[str, Any]) -> str:
    runs = figures["runs"]
    charts = [
        ("Recovery", _curves(runs)),
        ("Contacts per account",
         _bars(runs, "contacts_per_account", "Contacts per account entering collection",
               "contacts")),
        ("Complaints",
         _bars(runs, "complaints_per_10k", "Complaints per 10,000 contacts", "complaints")),
        ("Cost", _bars(runs, "cost_per_yuan", "Cost per yuan recovered", "yuan")),
    ]  # fmt: skip
    types_png, type_rows = _types(runs)
    charts.append(("By borrower type", types_png))
    goals = [g for g in figures.get("goals", []) if g.get("met") is not None]
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>arrears: the learned policy against the champion</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
        "img{max-width:100%}.met{color:#15803d}.not{color:#b91c1c}</style></head><body>",
        "<h1>The learned policy against the champion</h1>",
        f"<p>{len(figures.get('worlds', []))} worlds, {figures.get('days')} days, "
        f"{figures.get('loans')} loans; each policy lived each world through the real cycle "
        "with the same borrowers and the same random numbers.</p>",
        "<h2>Goals</h2><table><tr><th>goal</th><th>target</th><th>measured</th><th>met</th></tr>",
    ]
    for g in goals:
        v = g["measured"]
        shown = f"{v:+.2%}" if isinstance(v, float) and abs(v) < 5 else f"{v}"
        met = "<span class='met'>met</span>" if g["met"] else "<span class='not'>not met</span>"
        parts.append(
            f"<tr><td>{esc(g['goal'])}</td><td>{esc(g['target'])}</td>"
            f"<td>{esc(shown)}</td><td>{met}</td></tr>"
        )
    parts.append("</table>")
    for title, png in charts:
        parts.append(
            f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{png}'>"
        )
    parts.append(
        "<h3>By hidden type (recovery, contacts per account, complaints)</h3><table><tr>"
        "<th>type</th><th colspan=3>champion</th><th colspan=3>learned</th></tr>"
    )
    for row in type_rows:
        parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write(figures: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(figures), encoding="utf-8")

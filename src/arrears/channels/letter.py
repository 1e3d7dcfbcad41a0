"""Letters: a rendered letter's HTML laid out on A4 and printed to PDF with WeasyPrint, in Noto
CJK (Debian's ``fonts-noto-cjk``) so Chinese prints as Chinese; and the day's letters batched
for a print vendor as one PDF plus a CSV manifest saying which pages go to whom.

Fonts come from the machine (fontconfig), never from the network: the stylesheet names local
families only, and WeasyPrint is given no URL fetcher for anything outside the document.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arrears import exports

STYLE = """
@page { size: A4; margin: 22mm 20mm 24mm 20mm;
        @bottom-center { content: counter(page) " / " counter(pages);
                         font-size: 8pt; color: #666; } }
html { font-family: "Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans", sans-serif;
       font-size: 10.5pt; line-height: 1.6; color: #111; }
.sender { font-size: 9pt; color: #444; border-bottom: 0.5pt solid #999; padding-bottom: 2mm; }
.recipient { margin: 10mm 0 10mm 0; white-space: pre-line; }
h1 { font-size: 15pt; text-align: center; letter-spacing: 0.2em; margin: 4mm 0 6mm 0; }
p { margin: 0 0 3mm 0; }
.sign { text-align: right; margin-top: 10mm; }
"""


@dataclass(frozen=True)
class Letter:
    key: str  # the idempotency key (the plan action)
    recipient: str  # name
    address: str  # postal address, lines separated by newlines
    sender: str  # the organisation's name and address
    body_html: str  # the rendered template (already escaped by it)
    locale: str = "zh-CN"


def page_html(letter: Letter) -> str:
    lang = "zh-CN" if letter.locale.startswith("zh") else "en"
    to = f"{html.escape(letter.recipient)}\n{html.escape(letter.address)}"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<style>{STYLE}</style></head><body>"
        f'<div class="sender">{html.escape(letter.sender)}</div>'
        f'<div class="recipient">{to}</div>'
        f"{letter.body_html}</body></html>"
    )


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"letters load nothing from outside the document (asked for {url})")


def _document(letter: Letter) -> Any:
    from weasyprint import HTML

    return HTML(string=page_html(letter), url_fetcher=_no_fetch).render()


def to_pdf(letter: Letter) -> bytes:
    """One letter as a PDF."""
    pdf: bytes = _document(letter).write_pdf()
    return pdf


@dataclass(frozen=True)
class Batch:
    pdf: Path
    manifest: Path
    letters: int
    pages: int


def write_batch(letters: list[Letter], folder: Path, name: str) -> Batch:
    """The letters as one PDF (``name``.pdf) and a manifest (``name``.csv: sequence, key,
    recipient, address, first page, pages) for the print vendor."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [_document(x) for x in letters]
    rows, page = [], 1
    for k, (letter, doc) in enumerate(zip(letters, docs, strict=True), start=1):
        rows.append(
            [
                k,
                letter.key,
                letter.recipient,
                letter.address.replace("\n", " / "),
                page,
                len(doc.pages),
            ]
        )
        page += len(doc.pages)
    pdf_path, csv_path = folder / f"{name}.pdf", folder / f"{name}.csv"
    if docs:
        merged = docs[0].copy([p for d in docs for p in d.pages])
        merged.write_pdf(pdf_path)
    else:
        pdf_path.write_bytes(b"")
    buf = io.StringIO()
    w = exports.writer(buf)  # names and addresses: never a formula in the vendor's sheet
    w.writerow(["sequence", "key", "recipient", "address", "first_page", "pages"])
    w.writerows(rows)
    csv_path.write_text(buf.getvalue(), encoding="utf-8")
    return Batch(pdf_path, csv_path, len(letters), page - 1)

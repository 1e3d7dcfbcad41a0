"""Letters printed for real: WeasyPrint lays out a rendered template on A4 in Noto CJK, and
poppler reads the PDF back: the Chinese text, the embedded fonts, a page as a PNG; a batch is
one PDF and a manifest whose pages add up."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from arrears.channels import templating
from arrears.channels.letter import Letter, to_pdf, write_batch


def _letter(key: str = "2026-11-23|L1|collection_letter_d25", locale: str = "zh-CN") -> Letter:
    tpl = next(
        t
        for t in templating.read_folder(templating.HERE)
        if t.name == "collection_letter" and t.locale == locale
    )
    body = templating.render(tpl, templating.sample_context(locale)).body
    return Letter(
        key,
        "张三",
        "上海市浦东新区示例路1号\n200120",
        "示例消费金融 · 上海市浦东新区",
        body,
        locale,
    )


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def test_a_chinese_letter_prints_in_a_cjk_font(tmp_path: Path) -> None:
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(to_pdf(_letter()))
    text = _run("pdftotext", "-layout", str(pdf), "-")
    for words in ("催收函", "尊敬的张三", "2,227.27", "K7Q2M9XD", "义务", "异议"):
        assert words in "".join(text.split()), words
    fonts = [line.split() for line in _run("pdffonts", str(pdf)).splitlines()[2:]]
    cjk = [f for f in fonts if "Noto-Sans-CJK" in f[0]]
    assert cjk and all(f[-5] == "yes" for f in cjk)  # a CJK font, embedded (column "emb")
    _run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page"))
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_batch_is_one_pdf_and_a_manifest_of_its_pages(tmp_path: Path) -> None:
    letters = [_letter(f"2026-11-23|L{k}|collection_letter_d25") for k in range(3)]
    letters.append(_letter("2026-11-23|L9|collection_letter_d25", locale="en"))
    batch = write_batch(letters, tmp_path, "letters-2026-11-23")
    pages = int(_run("pdfinfo", str(batch.pdf)).split("Pages:")[1].split()[0])
    assert batch.letters == 4 and batch.pages == pages >= 4
    with batch.manifest.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["key"] for r in rows] == [x.key for x in letters]
    assert int(rows[0]["first_page"]) == 1
    for a, b in zip(rows, rows[1:], strict=False):
        assert int(b["first_page"]) == int(a["first_page"]) + int(a["pages"])
    assert int(rows[-1]["first_page"]) + int(rows[-1]["pages"]) - 1 == pages
    assert rows[0]["address"] == "上海市浦东新区示例路1号 / 200120"

"""A labelled conduct corpus: JSON lines of ``{id, family, label, lang, channel, text}``.

``family`` groups the paraphrases of one idea: a measure splits by family, never by line, so a
paraphrase of a training line is never scored as if it were new text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from arrears.compliance.conduct import LABELS

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.jsonl"
LANGS = ("zh-Hans", "zh-Hant", "en")
CHANNELS = ("sms", "chat", "note", "email", "transcript")
FIELDS = ("id", "family", "label", "lang", "channel", "text")


class CorpusError(ValueError):
    """A corpus line that does not read: the file, the line and the field at fault."""


@dataclass(frozen=True)
class Line:
    id: str
    family: str
    label: str
    lang: str
    channel: str
    text: str

    @property
    def flagged(self) -> bool:
        return self.label in LABELS[:-1]


def _field(path: Path, row: int, data: dict[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CorpusError(f"{path.name}, line {row}, field {name}: a non-empty string is needed")
    return value


def read(path: Path = CORPUS) -> list[Line]:
    """Every line of ``path``, checked (label, language and channel from their lists; ids
    unique; one label to a family)."""
    lines: list[Line] = []
    seen: set[str] = set()
    family_label: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for row, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path.name}, line {row}: not JSON ({exc.msg})") from exc
            if not isinstance(data, dict):
                raise CorpusError(f"{path.name}, line {row}: an object is needed")
            line = Line(*(_field(path, row, data, name) for name in FIELDS))
            for name, allowed in (("label", LABELS), ("lang", LANGS), ("channel", CHANNELS)):
                if getattr(line, name) not in allowed:
                    raise CorpusError(
                        f"{path.name}, line {row}, field {name}: {getattr(line, name)!r} is "
                        f"not one of {', '.join(allowed)}"
                    )
            if line.id in seen:
                raise CorpusError(f"{path.name}, line {row}, field id: {line.id} again")
            if family_label.setdefault(line.family, line.label) != line.label:
                raise CorpusError(
                    f"{path.name}, line {row}, field label: family {line.family} is "
                    f"{family_label[line.family]}, not {line.label}"
                )
            seen.add(line.id)
            lines.append(line)
    return lines

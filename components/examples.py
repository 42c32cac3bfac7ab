"""Example sentences and lessons, stored as TOML data in ``examples/``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


@dataclass(frozen=True)
class Example:
    text: str
    note_ja: str
    note_en: str

    def note(self, lang: str) -> str:
        return self.note_en if lang == "en" else self.note_ja


@lru_cache(maxsize=1)
def load_sentences(path: Path = EXAMPLES_DIR / "sentences.toml") -> tuple[Example, ...]:
    """The example sentences, in file order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(Example(s["text"], s["note_ja"], s["note_en"]) for s in data["sentence"])

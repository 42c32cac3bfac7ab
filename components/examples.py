"""Example sentences, stored as TOML data in ``examples/sentences.toml``.

Each example carries the view that shows its point (layer, head, the
position of the next-token chart, units, whether the first-token column is
hidden), chosen by measuring the bundled model, and claims about the model
that its note relies on; the tests check every claim on the bundled model.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


@dataclass(frozen=True)
class Example:
    text: str
    note_ja: str
    note_en: str
    layer: int = 0
    head: int = 0
    pos: int | None = None  # the next-token chart's position; None: the end of the sentence
    view: str = "token"
    hide_sink: bool = False
    claims: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def note(self, lang: str) -> str:
        return self.note_en if lang == "en" else self.note_ja


@lru_cache(maxsize=1)
def load_sentences(path: Path = EXAMPLES_DIR / "sentences.toml") -> tuple[Example, ...]:
    """The example sentences, in file order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Example(
            s["text"], s["note_ja"], s["note_en"], layer=int(s.get("layer", 0)), head=int(s.get("head", 0)),
            pos=s.get("pos"), view=s.get("view", "token"), hide_sink=bool(s.get("hide_sink", False)),
            claims=tuple(s.get("claims", ())),
        )
        for s in data["sentence"]
    )


def example_for(text: str) -> Example | None:
    """The example whose sentence is ``text``, if any."""
    return next((e for e in load_sentences() if e.text == text), None)

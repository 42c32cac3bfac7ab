"""The homophone lens: spellings that share a reading, scored in context.

For a kana word of the sentence (ナク), the table in
``examples/homophones.toml`` lists spellings with the same reading
(鳴く, 泣く, 無く ...). Each variant of the whole sentence is scored with the
model; the relative probability says which reading the context prefers.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from components.examples import EXAMPLES_DIR
from components.morphemes import Morpheme, is_kana, to_katakana

HOMOPHONES_FILE = EXAMPLES_DIR / "homophones.toml"


@dataclass(frozen=True)
class Candidate:
    """A word of the sentence the lens can work on."""

    morpheme: int  # index into the morphemes
    surface: str
    reading: str
    spellings: tuple[str, ...]


@lru_cache(maxsize=2)
def load_homophones(path: Path = HOMOPHONES_FILE) -> Mapping[str, tuple[str, ...]]:
    """Reading (katakana) -> spellings."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {to_katakana(reading): tuple(spellings) for reading, spellings in data["readings"].items()}


#: particles, auxiliaries and symbols are kana too, but have no homophones worth a lesson
FUNCTION_WORDS = ("助詞", "助動詞", "補助記号", "記号")


def find_candidates(morphemes: Sequence[Morpheme], table: Mapping[str, tuple[str, ...]]) -> tuple[Candidate, ...]:
    """Every kana word of the sentence, with the table's spellings for its
    reading (none if the table lacks it: the teacher can type some). Words the
    table knows come first."""
    out = []
    for i, m in enumerate(morphemes):
        if is_kana(m.surface) and not m.pos.startswith(FUNCTION_WORDS):
            reading = to_katakana(m.surface)
            out.append(Candidate(i, m.surface, reading, table.get(reading, ())))
    return tuple(sorted(out, key=lambda c: not c.spellings))


def parse_extra(text: str) -> tuple[str, ...]:
    """Spellings a teacher typed, separated by commas, 、 or spaces."""
    return tuple(s for s in re.split(r"[,、，\s]+", text or "") if s)


def variants(text: str, morpheme: Morpheme, spellings: Sequence[str]) -> tuple[str, ...]:
    """The sentence with the word replaced by each spelling (the original first, no repeats)."""
    out = [text]
    for spelling in spellings:
        candidate = text[: morpheme.start] + spelling + text[morpheme.end:]
        if candidate not in out:
            out.append(candidate)
    return tuple(out)


def relative_probabilities(logprobs: Sequence[float]) -> np.ndarray:
    """Each sentence's probability relative to the others (a softmax of the log-probabilities)."""
    x = np.asarray(logprobs, dtype=np.float64)
    e = np.exp(x - x.max())
    return e / e.sum()


def parse_sentences(text: str) -> tuple[str, ...]:
    """One sentence per line, blank lines and repeats dropped."""
    seen: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return tuple(seen)


def sentence_spellings(morphemes: Sequence[Morpheme], table: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every spelling the table lists for the kana words of a sentence (鳴く,
    泣く, 無く, なく for 鳥がナク): the words a next-token chart pins by default."""
    out: list[str] = []
    for candidate in find_candidates(morphemes, table):
        out += [s for s in candidate.spellings if s not in out]
    return tuple(out)

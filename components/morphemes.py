"""Japanese morphemes from fugashi + unidic-lite, with character offsets."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Morpheme:
    """One morpheme of the input.

    ``start``/``end`` are offsets into the original text in Python characters
    (code points), so 𠮷 counts as one. ``tokens`` lists the indices of the
    model tokens that overlap the morpheme; it is filled in by
    :func:`components.alignment.align_morphemes`.
    """

    surface: str
    reading: str  # katakana; "" when the dictionary has none (symbols, unknown Latin)
    lemma: str
    pos: str  # coarse part of speech, e.g. 名詞
    pos_detail: str  # e.g. 名詞-普通名詞-一般
    start: int
    end: int
    tokens: tuple[int, ...] = ()


_TAGGER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _tagger():
    import fugashi  # imported lazily: loading the dictionary takes a moment

    return fugashi.Tagger()


def to_katakana(text: str) -> str:
    """Hiragana -> katakana, after NFKC (half-width ｶﾅ becomes カナ); other characters stay."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def is_kana(text: str) -> bool:
    """True when ``text`` (after NFKC) is all hiragana, katakana or ー."""
    text = unicodedata.normalize("NFKC", text)
    return bool(text) and all("ぁ" <= c <= "ゖ" or "ァ" <= c <= "ヺ" or c == "ー" for c in text)


def _field(feature, name: str) -> str:
    value = getattr(feature, name, None)
    return "" if value in (None, "*") else str(value)


def split_morphemes(text: str) -> tuple[Morpheme, ...]:
    """Split ``text`` into morphemes with readings, lemmas and parts of speech.

    Whitespace is not a morpheme. Offsets always index ``text`` itself, so
    ``text[m.start:m.end] == m.surface`` for every morpheme.
    """
    # MeCab reads C strings, so a NUL would silently end the sentence: tag the
    # pieces between NULs separately and keep offsets into the whole text.
    nodes = []
    with _TAGGER_LOCK:
        for segment in text.split("\0"):
            nodes.extend((n.surface, n.feature) for n in _tagger()(segment))
    morphemes: list[Morpheme] = []
    cursor = 0
    for surface, feature in nodes:
        if not surface or not surface.strip():
            continue
        start = text.find(surface, cursor)
        if start < 0:  # MeCab never rewrites surfaces, but never trust offsets blindly
            continue
        end = start + len(surface)
        cursor = end
        pos_parts = [_field(feature, f"pos{i}") for i in range(1, 5)]
        reading = _field(feature, "kana")
        if not reading and is_kana(surface):
            reading = to_katakana(surface)
        morphemes.append(
            Morpheme(
                surface=surface,
                reading=reading,
                lemma=_field(feature, "lemma") or surface,
                pos=pos_parts[0],
                pos_detail="-".join(p for p in pos_parts if p),
                start=start,
                end=end,
            )
        )
    return tuple(morphemes)

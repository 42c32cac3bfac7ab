"""Model tokens <-> morphemes, by character offsets.

A token covers ``text[start:end]``. A morpheme lists every token that
overlaps it, so a morpheme split into several tokens (ナク -> ナ, ク) lists
them all, and a token that spans two morphemes is listed by both.

Byte-fallback pieces (``<0xF0>`` ...) that together encode one character
all carry that character's offsets; they are shown as the character with a
subscript part number (𠮷₁ 𠮷₂ 𠮷₃ 𠮷₄), never as �.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from components.morphemes import Morpheme

_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Token:
    """One model token. ``start``/``end`` index the input text (code points)."""

    index: int
    id: int
    piece: str  # the tokenizer's own spelling, e.g. "▁です" or "<0xF0>"
    text: str  # the characters of the input it stands for ("" for <bos>)
    start: int
    end: int
    special: bool
    part: int = 1  # byte-fallback piece number within its character(s)
    parts: int = 1


@dataclass(frozen=True)
class Unit:
    """A row/column of the morpheme-level view: a morpheme, or a token no
    morpheme covers (``<bos>``, whitespace)."""

    label: str
    start: int
    end: int
    tokens: tuple[int, ...]
    morpheme: int | None  # index into the morphemes, None for a lone token


def is_byte_piece(piece: str) -> bool:
    return bool(_BYTE_PIECE.match(piece))


def build_tokens(
    text: str,
    ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    pieces: Sequence[str],
    special_ids: set[int],
) -> tuple[Token, ...]:
    """Tokens with character offsets; byte pieces of one character are grouped."""
    if not (len(ids) == len(offsets) == len(pieces)):
        raise ValueError("ids, offsets and pieces must have the same length")
    raw = []
    for i, (tid, (start, end), piece) in enumerate(zip(ids, offsets, pieces)):
        special = int(tid) in special_ids
        raw.append(
            Token(
                index=i,
                id=int(tid),
                piece=str(piece),
                text="" if special else text[start:end],
                start=int(start),
                end=int(end),
                special=special,
            )
        )
    # Number the byte pieces that share one span: they only mean something together.
    tokens: list[Token] = []
    i = 0
    while i < len(raw):
        j = i
        if is_byte_piece(raw[i].piece) and not raw[i].special:
            while (
                j + 1 < len(raw)
                and is_byte_piece(raw[j + 1].piece)
                and (raw[j + 1].start, raw[j + 1].end) == (raw[i].start, raw[i].end)
            ):
                j += 1
        n = j - i + 1
        for k in range(i, j + 1):
            tokens.append(replace(raw[k], part=k - i + 1, parts=n) if n > 1 else raw[k])
        i = j + 1
    return tuple(tokens)


def visible(text: str) -> str:
    """Make whitespace and control characters visible; leave everything else."""
    out = []
    for ch in text:
        if ch == " ":
            out.append("␣")
        elif ch == "\u3000":
            out.append("□")
        elif ch == "\t":
            out.append("⇥")
        elif ch in "\n\r":
            out.append("↵")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200d":
            out.append(f"U+{ord(ch):04X}")
        elif ch == "\u200d":
            out.append("ZWJ")
        else:
            out.append(ch)
    return "".join(out)


def token_label(token: Token) -> str:
    """Readable label of an input token, e.g. 鳥, ␣です, <bos>, 𠮷₂."""
    if token.special:
        return token.piece
    label = visible(token.text) if token.text else token.piece
    if token.parts > 1:
        label += str(token.part).translate(_SUBSCRIPTS)
    return label


def piece_label(piece: str, decoded: str) -> str:
    """Readable label of a vocabulary entry (a predicted token).

    ``decoded`` is the tokenizer's decoding of the single id. A lone byte
    piece decodes to �, so it is shown by its byte value instead.
    """
    if "\ufffd" in decoded or not decoded:
        if is_byte_piece(piece):
            return f"byte {piece[1:-1]}"
        return piece or "?"
    return visible(decoded)


def align_morphemes(
    morphemes: Sequence[Morpheme], tokens: Sequence[Token]
) -> tuple[Morpheme, ...]:
    """Fill ``Morpheme.tokens`` with the indices of the tokens overlapping it."""
    aligned = []
    for m in morphemes:
        covered = tuple(
            t.index
            for t in tokens
            if not t.special and t.start < m.end and t.end > m.start
        )
        aligned.append(replace(m, tokens=covered))
    return tuple(aligned)


def build_units(tokens: Sequence[Token], morphemes: Sequence[Morpheme]) -> tuple[Unit, ...]:
    """Rows/columns of the morpheme view, in reading order.

    Every morpheme is a unit; every token that no morpheme covers (``<bos>``,
    a lone space) is a unit of its own, so each token belongs to at least one
    unit and attention rows keep summing to 1.
    """
    covered = {i for m in morphemes for i in m.tokens}
    items: list[tuple[tuple[int, int], Unit]] = []
    for mi, m in enumerate(morphemes):
        if m.tokens:
            items.append(((min(m.tokens), 1), Unit(visible(m.surface), m.start, m.end, m.tokens, mi)))
    for t in tokens:
        if t.index not in covered:
            items.append(((t.index, 0), Unit(token_label(t), t.start, t.end, (t.index,), None)))
    items.sort(key=lambda kv: (kv[0][0], kv[0][1], kv[1].start))
    return tuple(u for _, u in items)


def unit_matrices(units: Sequence[Unit], n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """The two linear maps of the morpheme aggregation.

    Returns ``query_avg  # [unit, query_token]`` (rows average a unit's query
    tokens) and ``key_sum  # [key_token, unit]`` (a unit collects its key
    tokens' weight; a token shared by n units gives each 1/n, so nothing is
    counted twice).
    """
    query_avg = np.zeros((len(units), n_tokens), dtype=np.float64)
    key_sum = np.zeros((n_tokens, len(units)), dtype=np.float64)
    share = np.zeros(n_tokens, dtype=np.float64)
    for u in units:
        share[list(u.tokens)] += 1
    for ui, u in enumerate(units):
        idx = list(u.tokens)
        query_avg[ui, idx] = 1.0 / len(idx)
        key_sum[idx, ui] = 1.0 / share[idx]
    return query_avg, key_sum


def aggregate_attention(attn: np.ndarray, units: Sequence[Unit]) -> np.ndarray:
    """Token attention -> unit (morpheme) attention.

    ``attn  # [..., query, key]`` -> ``[..., query_unit, key_unit]``. The
    rule: attention is **summed over the key tokens of a morpheme and
    averaged over its query tokens**. Rows still sum to 1.
    """
    query_avg, key_sum = unit_matrices(units, attn.shape[-1])
    return (query_avg.astype(np.float32) @ attn.astype(np.float32) @ key_sum.astype(np.float32)).astype(np.float32)


def aggregate_mask(masked: np.ndarray, units: Sequence[Unit]) -> np.ndarray:
    """``masked  # [query, key] bool`` -> ``[query_unit, key_unit] bool``.

    A unit cell is masked only when every token pair in it is masked.
    """
    out = np.zeros((len(units), len(units)), dtype=bool)
    for qi, qu in enumerate(units):
        for ki, ku in enumerate(units):
            out[qi, ki] = bool(np.all(masked[np.ix_(list(qu.tokens), list(ku.tokens))]))
    return out

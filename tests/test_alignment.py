"""Morphemes and their alignment to model tokens."""

import numpy as np
import pytest

from components.alignment import (
    aggregate_attention,
    aggregate_mask,
    align_morphemes,
    build_tokens,
    build_units,
    token_label,
)
from components.analysis import tokenize
from components.morphemes import Morpheme, split_morphemes


def test_morphemes_of_the_lesson_sentence():
    ms = split_morphemes("鳥がナク")
    assert [m.surface for m in ms] == ["鳥", "が", "ナク"]
    assert [m.reading for m in ms] == ["トリ", "ガ", "ナク"]
    assert [m.pos for m in ms] == ["名詞", "助詞", "名詞"]  # unidic-lite reads katakana ナク as a noun
    assert [(m.start, m.end) for m in ms] == [(0, 1), (1, 2), (2, 4)]


@pytest.mark.parametrize(
    "text",
    ["雨が激しく降る", "𠮷野家", "👨‍👩‍👧 家族", "ｶﾀｶﾅです", "Hello 世界", "a\tb\nc\u3000d", "x\x00鳥", "é"],
)
def test_morpheme_offsets_index_the_text(text):
    for m in split_morphemes(text):
        assert text[m.start:m.end] == m.surface
        assert m.surface.strip(), "whitespace is never a morpheme"


def test_reading_falls_back_to_katakana_for_unknown_kana():
    (m,) = [m for m in split_morphemes("ｶﾀｶﾅ") if m.surface == "ｶﾀｶﾅ"]
    assert m.reading == "カタカナ"


def _tokens(text, spans, pieces=None, special=()):
    ids = list(range(len(spans)))
    pieces = pieces or [text[s:e] or "<bos>" for s, e in spans]
    return build_tokens(text, ids, spans, pieces, set(special))


def test_byte_pieces_of_one_character_show_that_character():
    text = "𠮷野"
    toks = _tokens(
        text,
        [(0, 0), (0, 1), (0, 1), (0, 1), (0, 1), (1, 2)],
        ["<bos>", "<0xF0>", "<0xA0>", "<0xAE>", "<0xB7>", "野"],
        special=[0],
    )
    labels = [token_label(t) for t in toks]
    assert labels == ["<bos>", "𠮷₁", "𠮷₂", "𠮷₃", "𠮷₄", "野"]
    assert all("\ufffd" not in label for label in labels)
    assert toks[0].special and not toks[1].special
    assert [t.parts for t in toks[1:5]] == [4, 4, 4, 4]


def test_token_spanning_two_morphemes_is_listed_by_both_and_split_in_the_view():
    # "好きな" as one token over the morphemes 好き and な
    text = "好きな"
    toks = _tokens(text, [(0, 0), (0, 3)], ["<bos>", "好きな"], special=[0])
    ms = align_morphemes(
        [Morpheme("好き", "スキ", "好き", "形状詞", "", 0, 2), Morpheme("な", "ナ", "だ", "助動詞", "", 2, 3)], toks
    )
    assert [m.tokens for m in ms] == [(1,), (1,)]
    units = build_units(toks, ms)
    assert [u.label for u in units] == ["<bos>", "好き", "な"]
    attn = np.array([[1.0, 0.0], [0.4, 0.6]], dtype=np.float32)  # [query, key]
    agg = aggregate_attention(attn, units)
    # the shared key token's 0.6 is split evenly between its two morphemes
    np.testing.assert_allclose(agg[1], [0.4, 0.3, 0.3], atol=1e-7)
    np.testing.assert_allclose(agg.sum(-1), 1.0, atol=1e-6)


def test_morpheme_view_sums_keys_and_averages_queries():
    text = "鳥がナク"
    toks = _tokens(text, [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4)], special=[0])
    ms = align_morphemes(split_morphemes(text), toks)
    assert [m.tokens for m in ms] == [(1,), (2,), (3, 4)]
    units = build_units(toks, ms)
    rng = np.random.default_rng(0)
    attn = np.tril(rng.random((5, 5))).astype(np.float32)
    attn /= attn.sum(-1, keepdims=True)
    agg = aggregate_attention(attn, units)
    # ナク row: mean of the ナ and ク rows; 鳥 column: the 鳥 key only; ナク column: ナ + ク keys
    expect_row = (attn[3] + attn[4]) / 2
    np.testing.assert_allclose(agg[3], [expect_row[0], expect_row[1], expect_row[2], expect_row[3] + expect_row[4]], atol=1e-6)
    np.testing.assert_allclose(agg.sum(-1), 1.0, atol=1e-6)
    masked = np.triu(np.ones((5, 5), dtype=bool), 1)
    um = aggregate_mask(masked, units)
    assert um.tolist() == np.triu(np.ones((4, 4), dtype=bool), 1).tolist()


@pytest.mark.parametrize(
    "text, morpheme, n_tokens",
    [
        ("鳥がナク", "ナク", 2),
        ("𠮷野家", "𠮷", 4),
        ("ｶﾀｶﾅです", "ｶﾀｶﾅ", 4),
    ],
)
def test_alignment_on_the_tiny_tokenizer(tiny, text, morpheme, n_tokens):
    toks = tokenize(tiny, text)
    ms = align_morphemes(split_morphemes(text), toks)
    (m,) = [m for m in ms if m.surface == morpheme]
    assert len(m.tokens) == n_tokens
    covered = [toks[i] for i in m.tokens]
    assert text[min(t.start for t in covered):max(t.end for t in covered)] == morpheme
    assert toks[0].special and token_label(toks[0]) == "<bos>"


def test_emoji_with_joiners_never_show_replacement_characters(tiny):
    text = "👨‍👩‍👧 家族"
    toks = tokenize(tiny, text)
    labels = [token_label(t) for t in toks]
    assert all("\ufffd" not in label for label in labels)
    assert labels[1:5] == ["👨₁", "👨₂", "👨₃", "👨₄"]
    assert "ZWJ₁" in labels  # the zero-width joiner is made visible
    ms = align_morphemes(split_morphemes(text), toks)
    assert [m.surface for m in ms][-1] == "家族"
    assert [toks[i].text for i in ms[-1].tokens] == ["家", "族"]


def test_mixed_english_aligns(tiny):
    text = "Hello 世界"
    toks = tokenize(tiny, text)
    ms = align_morphemes(split_morphemes(text), toks)
    assert [m.surface for m in ms] == ["Hello", "世界"]
    assert len(ms[0].tokens) == 5
    units = build_units(toks, ms)
    assert [u.label for u in units] == ["<bos>", "Hello", "␣", "世界"]

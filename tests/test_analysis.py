"""The analysis engine on the tiny random GPT-2: masks, an independent
oracle, raw-score capture and temperature re-scoring."""

import numpy as np
import pytest
import torch

from components.analysis import MAX_TOKENS, AnalysisError, run_analysis, run_forward
from components.sampling import filter_top_k_top_p, log_normalizer, softmax, top_probs, top_tokens

SENTENCES = ["鳥がナク", "雨が激しく降る", "赤ちゃんがナク", "𠮷野家 Hello"]


@pytest.fixture(scope="module")
def analyses(tiny):
    return {s: run_analysis(tiny, s, scores=True, unmasked=True) for s in SENTENCES}


def test_shapes_follow_layer_head_query_key(tiny, analyses):
    a = analyses["鳥がナク"]
    assert a.attentions.shape == (tiny.n_layers, tiny.n_heads, 5, 5)
    assert a.attentions.dtype == np.float32
    assert a.masked.shape == (tiny.n_layers, 5, 5)
    assert a.unit_attentions.shape == (tiny.n_layers, tiny.n_heads, 4, 4)
    assert a.scores.shape == a.attentions.shape


@pytest.mark.parametrize("text", SENTENCES)
def test_rows_sum_to_one_and_the_future_is_exactly_zero(analyses, text):
    a = analyses[text]
    np.testing.assert_allclose(a.attentions.sum(-1), 1.0, atol=1e-5)
    n = a.n_tokens
    future = np.triu(np.ones((n, n), dtype=bool), k=1)
    assert np.all(a.attentions[:, :, future] == 0), "Attention pattern attends outside the mask"
    assert np.array_equal(a.masked[0], future), "the captured mask is the causal triangle"
    np.testing.assert_allclose(a.unit_attentions.sum(-1), 1.0, atol=1e-5)


def test_layer_attention_matches_a_hand_computed_oracle(tiny, analyses):
    """Recompute every layer's attention from its own Q/K projections, in numpy."""
    a = analyses["雨が激しく降る"]
    ids = torch.tensor([[t.id for t in a.tokens]])
    with torch.no_grad():
        hidden = tiny.model(input_ids=ids, output_hidden_states=True).hidden_states
    gpt2 = tiny.model.transformer
    for layer, block in enumerate(gpt2.h):
        with torch.no_grad():
            x = block.ln_1(hidden[layer])[0]
            w, b = block.attn.c_attn.weight.numpy(), block.attn.c_attn.bias.numpy()
        qkv = x.numpy().astype(np.float64) @ w + b  # [token, 3 * width]
        width = qkv.shape[1] // 3
        heads = tiny.n_heads
        d = width // heads
        q = qkv[:, :width].reshape(-1, heads, d).transpose(1, 0, 2)  # [head, query, dim]
        k = qkv[:, width:2 * width].reshape(-1, heads, d).transpose(1, 0, 2)  # [head, key, dim]
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        n = scores.shape[-1]
        scores[:, np.triu(np.ones((n, n), dtype=bool), 1)] = -np.inf
        expect = np.exp(scores - scores.max(-1, keepdims=True))
        expect /= expect.sum(-1, keepdims=True)
        np.testing.assert_allclose(a.attentions[layer], expect, atol=1e-5)
        # and the captured raw scores are those same pre-mask scores
        raw = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        np.testing.assert_allclose(a.scores[layer], raw, atol=1e-5)


def test_registered_attention_equals_plain_eager(tiny):
    """The recording function must not change a single number."""
    from components.models import build_tiny_model

    eager = build_tiny_model(tiny.tokenizer)  # same seed, plain eager attention
    assert eager.config._attn_implementation == "eager"
    ids = torch.tensor([tiny.tokenizer("雨が激しく降る").input_ids])
    with torch.no_grad():
        ref = eager(input_ids=ids, output_attentions=True)
    ours = run_forward(tiny, ids[0].tolist(), record_scores=True)
    for layer, att in enumerate(ref.attentions):
        assert np.array_equal(ours.attentions[layer], att[0].numpy())


def test_scores_reproduce_attention_after_mask_and_softmax(analyses):
    a = analyses["赤ちゃんがナク"]
    s = np.where(a.masked[:, None], -np.inf, a.scores.astype(np.float64))
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    np.testing.assert_allclose(w, a.attentions, atol=1e-6)


def test_temperature_rescoring_matches_an_exact_softmax(tiny, analyses):
    a = analyses["鳥がナク"]
    ids = torch.tensor([[t.id for t in a.tokens]])
    with torch.no_grad():
        logits = tiny.model(input_ids=ids).logits[0].numpy()  # [position, vocab]
    for temperature in (0.2, 0.5, 1.0, 1.5, 2.0):
        exact = softmax(logits, temperature)
        approx = top_probs(a.next_logits, temperature)
        picked = np.take_along_axis(exact, a.next_logits.top_ids, axis=1)
        np.testing.assert_allclose(approx, picked, rtol=2e-3, atol=1e-9)
    np.testing.assert_allclose(
        log_normalizer(a.next_logits, 1.0), np.log(np.exp(logits.astype(np.float64)).sum(-1)), atol=1e-6
    )


def test_top_tokens_are_sorted_and_labelled(analyses):
    a = analyses["鳥がナク"]
    top = top_tokens(a.next_logits, 2, a.labels, 1.0, 10)
    assert len(top) == 10
    assert [t.prob for t in top] == sorted((t.prob for t in top), reverse=True)
    assert all(t.text and "\ufffd" not in t.text for t in top)
    lower = top_tokens(a.next_logits, 2, a.labels, 0.5, 10)
    assert lower[0].prob > top[0].prob, "a lower temperature sharpens the distribution"


@pytest.mark.parametrize("text", ["", "   ", "\u3000\u3000", "\n\t"])
def test_empty_input_is_a_clear_error(tiny, text):
    with pytest.raises(AnalysisError) as info:
        run_analysis(tiny, text)
    assert info.value.code == "empty"


def test_too_long_input_names_the_limit(tiny):
    with pytest.raises(AnalysisError) as info:
        run_analysis(tiny, "あ" * (MAX_TOKENS + 5))
    assert info.value.code == "too_long"
    assert str(MAX_TOKENS) in str(info.value)


def test_top_k_and_top_p_filters():
    p = np.array([0.5, 0.2, 0.15, 0.1, 0.05])
    np.testing.assert_allclose(filter_top_k_top_p(p, top_k=2), [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0])
    np.testing.assert_allclose(filter_top_k_top_p(p, top_p=0.8), np.array([0.5, 0.2, 0.15, 0, 0]) / 0.85)
    np.testing.assert_allclose(filter_top_k_top_p(p), p)

"""Masked vs unmasked attention on the tiny model, checked against plain
eager transformers with an all-zero 4-D mask as an independent oracle."""

import numpy as np
import pytest
import torch

from components.analysis import run_analysis
from components.models import build_tiny_model
from components.views import last_word_position, mask_stages, prediction_shifts

TEXT = "雨が激しく降る"


@pytest.fixture(scope="module")
def analysis(tiny):
    return run_analysis(tiny, TEXT, scores=True, unmasked=True)


def test_masked_is_zero_above_the_diagonal_and_unmasked_is_not(analysis):
    n = analysis.n_tokens
    future = np.triu(np.ones((n, n), dtype=bool), 1)
    assert np.all(analysis.attentions[:, :, future] == 0)
    assert np.all(analysis.unmasked_attentions[:, :, future] > 0)
    np.testing.assert_allclose(analysis.unmasked_attentions.sum(-1), 1.0, atol=1e-5)


def test_the_first_row_differs(analysis):
    """With the mask <bos> sees only itself; without it, everything."""
    assert np.all(analysis.attentions[:, :, 0, 0] == 1.0)
    assert np.all(analysis.unmasked_attentions[:, :, 0, 0] < 1.0)


def test_last_row_same_in_the_first_layer_but_not_later(analysis):
    """The last query sees every key either way, so layer 0's last row cannot
    change; from layer 1 on, the keys themselves carry the future."""
    assert np.array_equal(analysis.unmasked_attentions[0, :, -1], analysis.attentions[0, :, -1]), "identical"
    assert not np.allclose(analysis.unmasked_attentions[1, :, -1], analysis.attentions[1, :, -1], atol=1e-7)


def test_unmasked_run_matches_eager_with_a_zero_mask(tiny, analysis):
    eager = build_tiny_model(tiny.tokenizer)  # plain eager, no registered function
    ids = torch.tensor([[t.id for t in analysis.tokens]])
    n = ids.shape[1]
    with torch.no_grad():
        ref = eager(input_ids=ids, attention_mask=torch.zeros(1, 1, n, n), output_attentions=True)
    for layer, att in enumerate(ref.attentions):
        np.testing.assert_allclose(analysis.unmasked_attentions[layer], att[0].numpy(), atol=1e-6)
    p = torch.softmax(eager(input_ids=ids).logits[0].double(), -1)
    q = torch.softmax(ref.logits[0].double(), -1)
    np.testing.assert_allclose(analysis.unmasked_shift, 0.5 * (p - q).abs().sum(-1).detach().numpy(), atol=1e-9)


def test_mask_stages(analysis):
    st = mask_stages(analysis, 1, 0)
    assert st.scores.shape == st.weights.shape == st.masked.shape
    assert np.all(np.isfinite(st.scores)), "raw scores exist for the future too"
    s = np.where(st.masked, -np.inf, st.scores.astype(np.float64))
    w = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(w / w.sum(-1, keepdims=True), st.weights, atol=1e-6)


def test_prediction_shifts(analysis):
    shifts = prediction_shifts(analysis)
    assert len(shifts) == analysis.n_tokens
    assert shifts[2].prefix == "雨が"
    assert all(0 <= s.moved <= 1 for s in shifts)


def test_last_word_position(analysis, tiny):
    pos = last_word_position(analysis)
    assert "".join(t.text for t in analysis.tokens[: pos + 1]) == "雨が激しく"  # 降る comes next
    assert last_word_position(run_analysis(tiny, "鳥がナク")) == 2


def test_cli_unmasked_fields_have_the_same_shapes(tiny, tmp_path):
    import json

    from components.cli import main

    out = tmp_path / "u.json"
    assert main(["analyze", TEXT, "--model", "tiny-random", "--unmasked", "--scores", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert np.asarray(data["unmasked_attentions"]).shape == np.asarray(data["attentions"]).shape
    assert np.asarray(data["scores"]).shape == np.asarray(data["attentions"]).shape
    assert [e["position"] for e in data["unmasked_next_tokens"]] == [e["position"] for e in data["next_tokens"]]


@pytest.mark.parametrize(
    "masked, unmasked, moved, key",
    [("鳴", "ナ", 0.36, "peek_explanation"), ("鳴", "鳴", 0.20, "peek_explanation_same"),
     ("躅", "躅", 0.001, "peek_barely")],
)
def test_the_explanation_agrees_with_its_numbers(masked, unmasked, moved, key):
    from components.i18n import t
    from components.sampling import TokenProb
    from components.views import PositionShift, peek_message

    shift = PositionShift(2, "鳥が", TokenProb(1, masked, 0.1), TokenProb(2, unmasked, 0.2), moved)
    got, params = peek_message("鳥がナク", shift)
    assert got == key
    assert params["future"] == "ナク" and params["moved"] == f"{moved:.2f}"
    for lang in ("ja", "en"):
        text = t(got, lang, **params)
        assert f"{moved:.2f}" in text and masked in text
        if key == "peek_explanation":
            assert unmasked in text


def test_the_end_of_the_sentence_has_no_hidden_future():
    from components.sampling import TokenProb
    from components.views import PositionShift, peek_message

    shift = PositionShift(4, "鳥がナク", TokenProb(1, "。", 0.1), TokenProb(1, "。", 0.1), 0.05)
    assert peek_message("鳥がナク", shift) == ("peek_last", {"prefix": "鳥がナク", "moved": "0.05"})
    still = PositionShift(4, "鳥がナク", TokenProb(1, "。", 0.1), TokenProb(1, "。", 0.1), 0.001)
    assert peek_message("鳥がナク", still)[0] == "peek_last_barely"

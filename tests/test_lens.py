"""The logit lens and head knockouts: unit tests on the tiny random GPT-2
(with independent oracles: HF's own hidden states, weight surgery on a copy
of the model, zeroed attention weights) and integration tests on the
bundled Gemma that check what the lessons claim."""

import copy
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from components import capture, knockout
from components.cli import main
from components.inference import AnalysisError, forward, model_turn
from components.knockout import ATTENTION, HEAD, MLP, Knockout, knockout_logits, run_knockouts
from components.lens import find_parts, resolve_token, run_lens

from conftest import ROOT

TEXT = "雨が激しく降る"  # <bos> 雨 が 激 し く 降 る on the tiny model: 8 tokens


def _ids(loaded, text):
    return list(loaded.tokenizer(text)["input_ids"])


def _plain_logits(loaded, ids, batch=1):
    with model_turn():
        return forward(loaded, [ids] * batch).logits.float().numpy()  # [batch, position, vocab]


def _rank_bounds(probs, p, eps=1e-7):
    """1-based rank of probability ``p`` in ``probs``, allowing for float ties."""
    return 1 + int((probs > p + eps).sum()), 1 + int((probs > p - eps).sum())


# ---------------------------------------------------------------- the lens


@pytest.fixture(scope="module")
def tiny_lens(tiny):
    track = [resolve_token(tiny, c).id for c in "雨降鳥"]
    return run_lens(tiny, TEXT, track=track, top_k=5)


def _hidden_state_oracle(loaded, text):
    """Probabilities per row from HF's own hidden states: ``[row, position, vocab]``.
    HF's last entry is already through the final norm, so it goes straight to the head."""
    parts = find_parts(loaded)
    with torch.inference_mode():
        out = loaded.model(input_ids=torch.tensor([_ids(loaded, text)]), output_hidden_states=True)
        hs = out.hidden_states
        rows = [parts.unembed(parts.final_norm(h[0])) for h in hs[:-1]] + [parts.unembed(hs[-1][0])]
        return torch.softmax(torch.stack(rows).double(), dim=-1).numpy(), torch.softmax(out.logits[0].double(), -1).numpy()


def test_lens_shapes_rows_and_columns(tiny, tiny_lens):
    n = len(_ids(tiny, TEXT))
    assert tiny_lens.n_rows == tiny.n_layers + 1 == 3
    assert tiny_lens.positions == tuple(range(n))
    assert tiny_lens.top_ids.shape == tiny_lens.top_probs.shape == (3, n, 5)
    assert tiny_lens.tracked_probs.shape == tiny_lens.tracked_ranks.shape == (3, n, 3)
    assert tiny_lens.top_probs.dtype == np.float32
    assert np.all(np.diff(tiny_lens.top_probs, axis=-1) <= 0), "top-k is sorted, most probable first"
    assert all(int(i) in tiny_lens.labels for i in tiny_lens.top_ids.ravel())
    assert not any("\ufffd" in label for label in tiny_lens.labels.values())


def test_last_row_is_the_models_own_next_token_distribution(tiny, tiny_lens):
    real = torch.softmax(torch.from_numpy(_plain_logits(tiny, _ids(tiny, TEXT))[0]).double(), -1).numpy()
    np.testing.assert_allclose(tiny_lens.top_probs[-1], np.sort(real, axis=-1)[:, ::-1][:, :5], atol=1e-5)
    np.testing.assert_allclose(
        tiny_lens.top_probs[-1], np.take_along_axis(real, tiny_lens.top_ids[-1], axis=-1), atol=1e-5
    )
    tracked = np.array(tiny_lens.tracked_ids)
    np.testing.assert_allclose(tiny_lens.tracked_probs[-1], real[:, tracked], atol=1e-5)


def test_every_row_matches_hf_hidden_states_through_the_head(tiny, tiny_lens):
    oracle, real = _hidden_state_oracle(tiny, TEXT)
    np.testing.assert_allclose(oracle[-1], real, atol=1e-6)  # the oracle itself is right at the end
    got = np.take_along_axis(oracle, tiny_lens.top_ids, axis=-1)  # [row, position, k]
    np.testing.assert_allclose(tiny_lens.top_probs, got, atol=1e-6)
    np.testing.assert_allclose(tiny_lens.top_probs, np.sort(oracle, axis=-1)[..., ::-1][..., :5], atol=1e-6)
    assert np.abs(np.log(oracle[0]) - np.log(oracle[1])).max() > 1e-2, "rows differ: each reads its own layer"


def test_tracked_probabilities_and_ranks_cover_the_whole_vocabulary(tiny, tiny_lens):
    oracle, _ = _hidden_state_oracle(tiny, TEXT)
    for row in range(tiny_lens.n_rows):
        for col in range(len(tiny_lens.positions)):
            for j, tid in enumerate(tiny_lens.tracked_ids):
                p = oracle[row, col, tid]
                assert tiny_lens.tracked_probs[row, col, j] == pytest.approx(p, abs=1e-7)
                lo, hi = _rank_bounds(oracle[row, col], p)
                assert lo <= tiny_lens.tracked_ranks[row, col, j] <= hi
    # a tracked top-1 token has rank 1
    top = int(tiny_lens.top_ids[-1, 3, 0])
    one = run_lens(tiny, TEXT, positions=[3], track=[top])
    assert one.tracked_ranks[-1, 0, 0] == 1
    assert one.tracked_probs[-1, 0, 0] == pytest.approx(float(tiny_lens.top_probs[-1, 3, 0]), abs=1e-6)


def test_one_position_reads_the_same_as_that_column_of_the_grid(tiny, tiny_lens):
    one = run_lens(tiny, TEXT, positions=[3], track=tiny_lens.tracked_ids)
    assert one.positions == (3,) and one.column(3) == 0
    np.testing.assert_allclose(one.top_probs[:, 0], tiny_lens.top_probs[:, 3], atol=1e-6)
    np.testing.assert_allclose(one.tracked_probs[:, 0], tiny_lens.tracked_probs[:, 3], atol=1e-7)
    assert np.abs(one.tracked_ranks[:, 0] - tiny_lens.tracked_ranks[:, 3]).max() <= 1  # float ties at most
    with pytest.raises(AnalysisError) as err:
        one.column(5)
    assert err.value.code == "bad_position"


@pytest.mark.parametrize("positions", [[-1], [8], [0, 99]])
def test_positions_outside_the_sentence_are_refused(tiny, positions):
    with pytest.raises(AnalysisError, match="<bos> = 0") as err:
        run_lens(tiny, TEXT, positions=positions)
    assert err.value.code == "bad_position"


def test_lens_says_when_a_model_has_no_head_to_read_through(tiny):
    model = copy.deepcopy(tiny.model)
    model.get_output_embeddings = lambda: None
    with pytest.raises(AnalysisError, match="not meaningful") as err:
        run_lens(dataclasses.replace(tiny, model=model), "鳥が")
    assert err.value.code == "lens_unavailable"


def test_lens_refuses_a_head_that_does_not_reproduce_the_model(tiny):
    """If what we apply after the last layer differs from what the model does,
    the last row would not be the real prediction: the lens must say so."""
    model = copy.deepcopy(tiny.model)
    model.config.final_logit_softcapping = 0.5  # GPT-2 ignores it; the lens would apply it
    with pytest.raises(AnalysisError, match="do not reproduce") as err:
        run_lens(dataclasses.replace(tiny, model=model), "鳥が")
    assert err.value.code == "lens_unavailable"


def test_target_text_counts_by_its_first_token(tiny):
    whole = resolve_token(tiny, "鳴く")
    first = resolve_token(tiny, "鳴")
    assert whole.id == first.id and whole.label == "鳴"
    assert whole.n_tokens == 2 and whole.is_partial and not first.is_partial
    assert resolve_token(tiny, first.id) == dataclasses.replace(first, text=str(first.id))
    for bad, code in (("", "empty_target"), (-1, "bad_target"), (tiny.vocab_size, "bad_target")):
        with pytest.raises(AnalysisError) as err:
            resolve_token(tiny, bad)
        assert err.value.code == code


# -------------------------------------------------------------- knockouts


def _every_knockout(loaded, p):
    parts = find_parts(loaded)
    kos = [Knockout(HEAD, layer, p, head) for layer in range(len(parts.layers)) for head in range(parts.n_heads)]
    return kos + [Knockout(kind, layer, p) for kind in (ATTENTION, MLP) for layer in range(len(parts.layers))]


def test_knocking_out_nothing_reproduces_the_logits_exactly(tiny):
    ids = _ids(tiny, TEXT)
    np.testing.assert_array_equal(knockout_logits(tiny, ids, [()]), _plain_logits(tiny, ids))
    # a row with nothing to knock out, next to rows whose hooks do work, is untouched too
    with_hooks = knockout_logits(tiny, ids, [(), (Knockout(HEAD, 0, 3, 1),), (Knockout(MLP, 1, 3),)])
    np.testing.assert_array_equal(with_hooks[0], _plain_logits(tiny, ids, batch=3)[0])


def test_a_knockout_at_p_changes_nothing_before_p(tiny):
    """Exactly: one forward per knockout, next to the plain forward of the same
    shape (rows of one batch can differ by float noise from where they sit)."""
    ids, p = _ids(tiny, TEXT), 4
    plain = _plain_logits(tiny, ids)[0]  # [position, vocab]
    for ko in _every_knockout(tiny, p):
        logits = knockout_logits(tiny, ids, [(ko,)])[0]
        np.testing.assert_array_equal(logits[:p], plain[:p], err_msg=f"{ko} changed an earlier prediction")
        assert np.abs(logits[p] - plain[p]).max() > 1e-4, f"{ko} changed nothing at p"


def test_zeroing_a_heads_slice_equals_zeroing_its_attention_weights(tiny):
    """Two independent routes to the same knockout: a pre-hook on c_proj's
    input, and the registered attention function setting the head's weights
    at query p to 0."""
    assert tiny.capture_ok
    ids, p = _ids(tiny, TEXT), 5
    for layer in range(tiny.n_layers):
        for head in range(tiny.n_heads):
            hooked = knockout_logits(tiny, ids, [(Knockout(HEAD, layer, p, head),)])[0]
            with model_turn(), capture.capturing(zero_weights=((layer, head, p),)):
                zeroed = forward(tiny, ids).logits[0].numpy()
            np.testing.assert_allclose(hooked, zeroed, atol=1e-5, rtol=0)
            with model_turn(), capture.capturing(zero_weights=((layer, 1 - head, p),)):
                other = forward(tiny, ids).logits[0].numpy()
            assert np.abs(hooked - other).max() > 1e-4, "the other head's knockout is a different one"


@pytest.mark.parametrize("kind", [HEAD, ATTENTION, MLP])
def test_last_layer_knockouts_equal_weight_surgery_on_a_copy(tiny, kind):
    """In the last layer, zeroing a part's output only at p gives p the same
    prediction as deleting the part's output weights everywhere."""
    ids = _ids(tiny, TEXT)
    p, last, head = len(ids) - 1, tiny.n_layers - 1, 1
    model = copy.deepcopy(tiny.model)
    block = model.transformer.h[last]
    with torch.no_grad():
        if kind == HEAD:
            dh = block.attn.c_proj.weight.shape[0] // tiny.n_heads  # Conv1D weight is [in, out]
            block.attn.c_proj.weight[head * dh : (head + 1) * dh] = 0
        else:
            proj = block.attn.c_proj if kind == ATTENTION else block.mlp.c_proj
            proj.weight.zero_()
            proj.bias.zero_()
    surgery = _plain_logits(dataclasses.replace(tiny, model=model), ids)[0, p]
    hooked = knockout_logits(tiny, ids, [(Knockout(kind, last, p, head),)])[0, p]
    np.testing.assert_allclose(hooked, surgery, atol=1e-5, rtol=0)
    assert np.abs(hooked - _plain_logits(tiny, ids)[0, p]).max() > 1e-4


@pytest.fixture(scope="module")
def tiny_knockouts(tiny):
    return run_knockouts(tiny, TEXT, "降", versus="雨", position=5)


def test_batched_knockouts_equal_one_at_a_time(tiny, tiny_knockouts):
    k = tiny_knockouts
    ids = _ids(tiny, TEXT)[: k.position + 1]

    def margin(logits):
        lp = torch.log_softmax(torch.from_numpy(logits).double(), -1).numpy()
        return lp[k.target.id] - lp[k.versus.id]

    base = margin(knockout_logits(tiny, ids, [()])[0, -1])
    assert k.baseline == pytest.approx(base, abs=1e-5)
    assert k.heads.shape == (tiny.n_layers, tiny.n_heads)
    assert k.attention.shape == k.mlp.shape == (tiny.n_layers,)
    for ko in _every_knockout(tiny, k.position):
        alone = margin(knockout_logits(tiny, ids, [(ko,)])[0, -1]) - base
        got = {HEAD: lambda: k.heads[ko.layer, ko.head], ATTENTION: lambda: k.attention[ko.layer],
               MLP: lambda: k.mlp[ko.layer]}[ko.kind]()
        assert got == pytest.approx(alone, abs=1e-5), ko
    assert np.abs(k.heads).max() > 1e-4, "the knockouts do something"


def test_the_margin_is_target_minus_versus(tiny, tiny_knockouts):
    t = run_knockouts(tiny, TEXT, "降", position=5)
    v = run_knockouts(tiny, TEXT, "雨", position=5)
    m = tiny_knockouts
    assert m.baseline == pytest.approx(t.baseline - v.baseline, abs=1e-5)
    assert m.target_logprob == pytest.approx(t.baseline, abs=1e-6)
    np.testing.assert_allclose(m.heads, t.heads - v.heads, atol=1e-5)
    np.testing.assert_allclose(m.mlp, t.mlp - v.mlp, atol=1e-5)
    assert m.metric == "log p(降) - log p(雨)" and t.metric == "log p(降)"


def test_strongest_lists_the_largest_drops(tiny_knockouts):
    k = tiny_knockouts
    order = sorted(((float(k.heads[l, h]), l, h) for l in range(k.n_layers) for h in range(k.n_heads)))
    assert [(l, h) for _, l, h in order[:2]] == [(l, h) for l, h, _ in k.strongest(2)]


def test_split_batches_give_the_same_numbers(tiny, tiny_knockouts, monkeypatch):
    monkeypatch.setattr(knockout, "_LOGIT_BUDGET_BYTES", 3 * tiny.vocab_size * 4)  # 3 rows per forward
    split = run_knockouts(tiny, TEXT, "降", versus="雨", position=5)
    np.testing.assert_allclose(split.heads, tiny_knockouts.heads, atol=1e-5)
    np.testing.assert_allclose(split.mlp, tiny_knockouts.mlp, atol=1e-5)


def test_knockout_inputs_are_checked(tiny):
    with pytest.raises(AnalysisError) as err:
        run_knockouts(tiny, TEXT, "降", position=8)
    assert err.value.code == "bad_position"
    with pytest.raises(AnalysisError) as err:
        run_knockouts(tiny, TEXT, "降", versus="降る")  # same first token
    assert err.value.code == "same_target"
    with pytest.raises(AnalysisError) as err:
        knockout_logits(tiny, _ids(tiny, TEXT), [(Knockout(HEAD, 0, 1, 7),)])
    assert err.value.code == "bad_head"


def test_knockouts_read_only_up_to_the_position(tiny):
    """Tokens after p cannot change the prediction at p (the causal mask), so
    a longer sentence gives the same knockouts at the same position."""
    short = run_knockouts(tiny, "雨が激", "降", position=3)
    long = run_knockouts(tiny, TEXT, "降", position=3)
    np.testing.assert_allclose(short.heads, long.heads, atol=1e-6)
    assert short.baseline == pytest.approx(long.baseline, abs=1e-6)


# ----------------------------------------------------------- CLI and export


def test_cli_analyze_lens_adds_the_grid(capsys, tiny):
    assert main(["analyze", "鳥がナク", "--model", "tiny-random", "--json", "-", "--top-k", "3", "--lens"]) == 0
    data = json.loads(capsys.readouterr().out)
    lens = data["lens"]
    assert len(lens) == tiny.n_layers + 1 and all(len(row) == 5 for row in lens)
    assert all(len(cell) == 3 and set(cell[0]) == {"id", "text", "prob"} for row in lens for cell in row)
    # the last row is the model's prediction, as next_tokens gives it
    for pos, cell in enumerate(lens[-1]):
        assert [c["id"] for c in cell] == [t["id"] for t in data["next_tokens"][pos]["top"]]
        np.testing.assert_allclose([c["prob"] for c in cell], [t["prob"] for t in data["next_tokens"][pos]["top"]], atol=1e-5)
    direct = run_lens(tiny, "鳥がナク", top_k=3)
    np.testing.assert_allclose([[[c["prob"] for c in cell] for cell in row] for row in lens], direct.top_probs, atol=1e-7)


def test_cli_analyze_without_lens_has_no_lens(capsys):
    assert main(["analyze", "鳥", "--model", "tiny-random", "--json", "-"]) == 0
    assert "lens" not in json.loads(capsys.readouterr().out)


def test_cli_knockout_prints_the_head_table(capsys, tiny):
    assert main(["knockout", TEXT, "--target", "降る", "--versus", "雨", "--pos", "5", "--model", "tiny-random"]) == 0
    out = capsys.readouterr().out
    assert "the first of 2 tokens of '降る'" in out
    assert "position: 5 (く)" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("layer"))
    assert "head 0" in lines[header] and "attention" in lines[header] and "MLP" in lines[header]
    expect = run_knockouts(tiny, TEXT, "降", versus="雨", position=5)
    for layer in range(tiny.n_layers):
        cells = lines[header + 1 + layer].replace("|", " ").split()
        assert int(cells[0]) == layer
        np.testing.assert_allclose([float(c) for c in cells[1:]],
                                   [*expect.heads[layer], expect.attention[layer], expect.mlp[layer]], atol=1.5e-3)


def test_cli_knockout_json(tmp_path, capsys, tiny):
    out = tmp_path / "k.json"
    assert main(["knockout", TEXT, "--target", "降", "--model", "tiny-random", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    expect = run_knockouts(tiny, TEXT, "降")
    assert [(r["layer"], r["head"]) for r in rows] == [(l, h) for l in range(tiny.n_layers) for h in range(tiny.n_heads)]
    np.testing.assert_allclose([r["delta"] for r in rows], expect.heads.ravel(), atol=1e-6)
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["knockout", TEXT, "--target", "降", "--pos", "8"], 2, "<bos> = 0 to 7"),
        (["knockout", TEXT, "--target", ""], 2, "empty"),
        (["knockout", TEXT, "--target", "降", "--versus", "降"], 2, "same token"),
        (["knockout", "  ", "--target", "降"], 2, "empty"),
        (["knockout", TEXT], 2, "--target"),
    ],
)
def test_cli_knockout_errors(capsys, argv, code, message):
    try:
        got = main(argv + ["--model", "tiny-random"])
    except SystemExit as exc:  # argparse: a missing option
        got = exc.code
    assert got == code
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_cli_knockout_model_problem_exits_1(capsys):
    assert main(["knockout", TEXT, "--target", "降", "--model", "/no/such/folder"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_knockout_in_a_subprocess():
    ok = subprocess.run(
        [sys.executable, "-m", "components", "knockout", "鳥がナク", "--target", "鳴", "--model", "tiny-random", "--json", "-"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)) == 4 and "Traceback" not in ok.stderr


# ------------------------------------------------- integration: bundled Gemma


@pytest.fixture(scope="module")
def gemma_ids(gemma):
    return {w: resolve_token(gemma, w).id for w in ("鳴", "泣", " drink", "飲")}


@pytest.mark.integration
def test_gemma_parts_and_the_last_row_is_the_real_prediction(gemma, gemma_ids):
    parts = find_parts(gemma)
    assert len(parts.layers) == 18 and parts.n_heads == 4 and parts.head_dim == 256
    assert parts.unembed.weight is gemma.model.model.embed_tokens.weight, "tied embeddings"
    lens = run_lens(gemma, "鳥が", track=[gemma_ids["鳴"], gemma_ids["泣"]])
    assert lens.n_rows == 19
    ids = _ids(gemma, "鳥が")
    logits = torch.from_numpy(_plain_logits(gemma, ids)[0]).double()
    real = torch.softmax(logits, -1).numpy()
    np.testing.assert_allclose(lens.top_probs[-1], np.take_along_axis(real, lens.top_ids[-1], -1), atol=1e-5)
    np.testing.assert_allclose(lens.tracked_probs[-1], real[:, [gemma_ids["鳴"], gemma_ids["泣"]]], atol=1e-5)
    for col in range(len(ids)):
        for j, tid in enumerate(lens.tracked_ids):
            lo, hi = _rank_bounds(real[col], real[col, tid], eps=1e-9)
            assert lo <= lens.tracked_ranks[-1, col, j] <= hi


@pytest.mark.integration
def test_gemma_hf_last_hidden_state_is_already_normed(gemma):
    """transformers puts the *normed* state last in hidden_states; norming it
    again would change the prediction. The lens norms each residual once."""
    parts = find_parts(gemma)
    with torch.inference_mode():
        out = gemma.model(input_ids=torch.tensor([_ids(gemma, "鳥が")]), output_hidden_states=True)
        once = parts.unembed(out.hidden_states[-1][0])
        twice = parts.unembed(parts.final_norm(out.hidden_states[-1][0]))
    assert torch.allclose(once, out.logits[0], atol=1e-4)
    assert not torch.allclose(twice, out.logits[0], atol=1e-1)


@pytest.mark.integration
def test_gemma_embedding_row_reads_back_the_input_token(gemma):
    """Tied embeddings: row 0 is not a prediction, it is the token itself."""
    lens = run_lens(gemma, "昨日の夜、友達と駅の近くで晩ご飯を食べた。")
    np.testing.assert_array_equal(lens.top_ids[0, :, 0], [t.id for t in lens.tokens])
    assert lens.top_probs[0, :, 0].min() > 0.99


@pytest.mark.integration
def test_gemma_naku_rises_through_the_layers(gemma, gemma_ids):
    """After 「鳥が」, 鳴 is nowhere for the first half of the model, near the
    top from layer 13 and first only at the output."""
    lens = run_lens(gemma, "鳥が", positions=[2], track=[gemma_ids["鳴"], gemma_ids["泣"]])
    rank = lens.tracked_ranks[:, 0, 0]  # [row] of 鳴
    assert rank[1:12].min() > 1000
    assert 20 < rank[13] <= 100
    assert rank[16] <= 5 and rank[17] == 2 and rank[18] == 1
    p_naku, p_naku_cry = lens.tracked_probs[-1, 0]
    assert p_naku == pytest.approx(0.047, abs=0.002) and p_naku_cry == pytest.approx(0.00135, abs=0.0002)


@pytest.mark.integration
@pytest.mark.parametrize("text", ["私は毎朝コーヒーを", "私は毎日コーヒーを", "彼は毎朝コーヒーを", "私は毎朝お茶を", "私は毎晩ビールを"])
def test_gemma_middle_layers_predict_in_english(gemma, gemma_ids, text):
    """' drink' is the lens's top token after layer 13, while 飲 is far down;
    from layer 16 飲 leads and ' drink' has gone."""
    p = len(_ids(gemma, text)) - 1
    lens = run_lens(gemma, text, positions=[p], track=[gemma_ids[" drink"], gemma_ids["飲"]])
    drink, nomu = lens.tracked_ranks[:, 0, 0], lens.tracked_ranks[:, 0, 1]  # [row]
    assert drink[13] == 1 and lens.tracked_probs[13, 0, 0] > 0.3 and nomu[13] > 20
    assert drink[14] <= 3 and lens.tracked_probs[14, 0, 0] > lens.tracked_probs[14, 0, 1]
    assert nomu[16] == 1 and drink[16] > 10
    assert lens.labels[int(lens.top_ids[-1, 0, 0])] in ("飲", "飲む")
    assert drink[18] > 1000


@pytest.mark.integration
def test_gemma_coffee_sentence_numbers(gemma, gemma_ids):
    lens = run_lens(gemma, "私は毎朝コーヒーを", positions=[5], track=[gemma_ids[" drink"], gemma_ids["飲"]])
    assert lens.tracked_probs[13, 0, 0] == pytest.approx(0.48, abs=0.01)
    assert lens.labels[int(lens.top_ids[14, 0, 1])] == "␣drinking"
    assert lens.tracked_probs[-1, 0, 1] == pytest.approx(0.31, abs=0.01)


@pytest.fixture(scope="module")
def gemma_knockouts(gemma):
    return run_knockouts(gemma, "鳥が", "鳴", versus="泣")


@pytest.mark.integration
def test_gemma_heads_that_carry_naku_over_naku_cry(gemma_knockouts):
    k = gemma_knockouts
    assert k.position == 2 and k.heads.shape == (18, 4) and k.attention.shape == k.mlp.shape == (18,)
    assert k.baseline == pytest.approx(3.55, abs=0.01)
    strongest = k.strongest(3)
    assert {(layer, head) for layer, head, _ in strongest} == {(15, 0), (12, 2), (16, 2)}
    assert all(-1.0 < d < -0.9 for _, _, d in strongest)
    others = np.delete(k.heads.ravel(), [15 * 4 + 0, 12 * 4 + 2, 16 * 4 + 2])
    assert others.min() > -0.6, "the three stand out from the other 69"


@pytest.mark.integration
def test_gemma_head_knockout_equals_zeroed_attention_weights(gemma):
    """Grouped-query attention: zeroing one query head's weights at p equals
    zeroing its 256-wide slice of o_proj's input, though 4 heads share one value head."""
    assert gemma.capture_ok
    ids, p = _ids(gemma, "鳥がナク"), 2
    for layer, head in ((12, 2), (15, 0), (0, 3)):
        hooked = knockout_logits(gemma, ids, [(Knockout(HEAD, layer, p, head),)])[0]
        with model_turn(), capture.capturing(zero_weights=((layer, head, p),)):
            zeroed = forward(gemma, ids).logits[0].numpy()
        np.testing.assert_allclose(hooked, zeroed, atol=1e-5, rtol=0)
        assert np.abs(hooked[p] - _plain_logits(gemma, ids)[0, p]).max() > 1e-3


@pytest.mark.integration
def test_gemma_attention_block_knockout_is_all_its_heads(gemma):
    """o_proj has no bias and RMSNorm(0) = 0: zeroing the block's output at p
    is the same as zeroing its four heads there."""
    ids, p = _ids(gemma, "鳥がナク"), 3
    # one forward each: rows of one batch differ by float noise (~1e-5) from where they sit in the batch
    block = knockout_logits(gemma, ids, [(Knockout(ATTENTION, 12, p),)])
    heads = knockout_logits(gemma, ids, [tuple(Knockout(HEAD, 12, p, h) for h in range(4))])
    np.testing.assert_allclose(block, heads, atol=1e-5, rtol=0)
    one_head = knockout_logits(gemma, ids, [(Knockout(HEAD, 12, p, 2),)])
    assert np.abs(one_head - block).max() > 1e-2, "one head is not the whole block"


@pytest.mark.integration
def test_gemma_knockout_of_nothing_and_earlier_positions(gemma):
    ids, p = _ids(gemma, "鳥がナク"), 2
    plain = _plain_logits(gemma, ids)
    np.testing.assert_array_equal(knockout_logits(gemma, ids, [()]), plain)
    for ko in (Knockout(HEAD, 15, p, 0), Knockout(ATTENTION, 1, p), Knockout(MLP, 0, p)):
        logits = knockout_logits(gemma, ids, [(ko,)])
        np.testing.assert_array_equal(logits[0, :p], plain[0, :p])
        assert np.abs(logits[0, p:] - plain[0, p:]).max() > 1e-2

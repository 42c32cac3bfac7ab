"""In-context learning: prompts, the few-shot curve, and induction scores."""

import numpy as np
import pytest

from components.analysis import run_forward, tokenize
from components.icl import (
    build_prompt,
    few_shot_curve,
    induction_scores,
    line_attention,
    load_tasks,
    parse_pairs,
    repeated_random_tokens,
    shuffle_answers,
)

TASKS = {t.id: t for t in load_tasks()}


def test_built_in_tasks():
    assert {"antonyms", "en-ja", "capital"} <= set(TASKS) and len(TASKS) >= 4
    for task in TASKS.values():
        assert len(task.pairs) >= 3 and task.query and task.answer
        assert task.title("ja") and task.title("en")


def test_prompt_is_one_demonstration_per_line():
    p = build_prompt([("大きい", "小さい"), ("高い", "低い")], "重い")
    assert p.text == "大きい→小さい\n高い→低い\n重い→"
    assert [p.text[s:e] for s, e in p.lines] == ["大きい→小さい", "高い→低い", "重い→"]
    assert build_prompt([], "重い").text == "重い→"


def test_parse_pairs_accepts_arrows_and_tabs():
    assert parse_pairs("a→b\n c -> d \nnoise\ne\tf\n→x") == (("a", "b"), ("c", "d"), ("e", "f"))


def test_shuffled_labels_move_every_answer():
    pairs = TASKS["antonyms"].pairs
    shuffled = shuffle_answers(pairs, seed=3)
    assert [a for a, _ in shuffled] == [a for a, _ in pairs]
    assert sorted(b for _, b in shuffled) == sorted(b for _, b in pairs)
    assert all(s[1] != p[1] for s, p in zip(shuffled, pairs))


def test_induction_score_on_a_hand_built_pattern():
    length, offset = 4, 1
    n = offset + 2 * length
    perfect = np.zeros((1, 2, n, n))
    perfect[:, :, np.arange(n), np.arange(n)] = 1.0  # every token attends to itself ...
    for q in range(offset + length, n):
        perfect[0, 0, q, :] = 0.0
        perfect[0, 0, q, q - length + 1] = 1.0  # ... except head 0, which follows the induction stripe
    uniform = np.tril(np.ones((n, n)))
    uniform /= uniform.sum(-1, keepdims=True)
    scores = induction_scores(np.concatenate([perfect, uniform[None, None].repeat(2, axis=1)]), length, offset)
    assert scores.shape == (2, 2)
    assert scores[0, 0] == 1.0 and scores[0, 1] == 0.0
    expect = np.mean([1.0 / (q + 1) for q in range(offset + length, n)])
    np.testing.assert_allclose(scores[1], expect)


def test_line_attention_sums_to_one_per_layer(tiny):
    prompt = build_prompt([("大きい", "小さい"), ("高い", "低い")], "重い")
    tokens = tokenize(tiny, prompt.text)
    att = run_forward(tiny, [t.id for t in tokens]).attentions
    parts, names = line_attention(att, tokens, prompt)
    assert names == ("<bos>", "大きい→小さい", "高い→低い", "重い→")
    np.testing.assert_allclose(parts.sum(-1), 1.0, atol=1e-5)


def test_few_shot_curve_shape(tiny):
    task = TASKS["antonyms"]
    curve = few_shot_curve(tiny, task.pairs, task.query, task.answer)
    assert [p.n_demos for p in curve] == list(range(len(task.pairs) + 1))
    assert all(0 < p.answer_prob < 1 and p.top_text for p in curve)


def test_repeated_tokens(tiny):
    ids = repeated_random_tokens(tiny, 10, seed=1)
    assert ids[0] == tiny.tokenizer.bos_token_id and ids[1:11] == ids[11:]
    assert len(set(ids[1:11])) == 10


@pytest.mark.integration
@pytest.mark.parametrize("task_id", ["antonyms", "en-ja"])
def test_three_demonstrations_lift_the_answer_by_half(gemma, task_id):
    task = TASKS[task_id]
    curve = few_shot_curve(gemma, task.pairs[:3], task.query, task.answer)
    assert curve[3].answer_prob - curve[0].answer_prob >= 0.5, [p.answer_prob for p in curve]


@pytest.mark.integration
def test_gemma_has_an_induction_head(gemma):
    length = 30
    ids = repeated_random_tokens(gemma, length, seed=0)
    scores = induction_scores(run_forward(gemma, ids).attentions, length)
    assert scores.shape == (18, 4)
    assert scores.max() > 0.5


def test_a_multi_token_answer_chains_its_tokens(tiny):
    """Against separate forward passes, one per answer token."""
    import torch

    from components.icl import answer_probability

    prompt, answer = build_prompt([("大きい", "小さい")], "高い").text, "低くない"
    answer_ids = tiny.tokenizer(answer, add_special_tokens=False)["input_ids"]
    assert len(answer_ids) == 4
    ids = [t.id for t in tokenize(tiny, prompt)]
    expect = 1.0
    for a in answer_ids:
        with torch.no_grad():
            probs = torch.softmax(tiny.model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)
        expect *= float(probs[a])
        ids.append(a)
    got, _, _ = answer_probability(tiny, prompt, answer)
    assert got == pytest.approx(expect, rel=1e-6)


@pytest.mark.integration
def test_shuffled_answers_stay_low_on_gemma(gemma):
    """The README's control: with the answers permuted the model does not find 軽い."""
    task = TASKS["antonyms"]
    pairs = list(task.pairs)
    curve = few_shot_curve(gemma, shuffle_answers(pairs, 0), task.query, task.answer)
    assert max(p.answer_prob for p in curve) < 0.1, [round(p.answer_prob, 3) for p in curve]

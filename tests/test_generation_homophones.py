"""Step-by-step generation and the homophone lens."""

import numpy as np
import pytest
import torch

from components.analysis import score_sentences
from components.generation import Settings, distribution, extend, generate, start
from components.homophones import (
    find_candidates,
    load_homophones,
    parse_extra,
    parse_sentences,
    relative_probabilities,
    variants,
)
from components.morphemes import split_morphemes


def test_a_fixed_seed_repeats_exactly(tiny):
    settings = Settings(temperature=1.5, top_k=50, top_p=0.95, seed=7)
    a = generate(tiny, "鳥が", 6, settings)
    b = generate(tiny, "鳥が", 6, settings)
    assert a.ids == b.ids and len(a.steps) == 6
    c = generate(tiny, "鳥が", 6, Settings(temperature=1.5, top_k=50, top_p=0.95, seed=8))
    assert a.ids != c.ids, "another seed draws other tokens"


def test_steps_extend_one_at_a_time_like_a_full_run(tiny):
    settings = Settings(seed=3)
    gen = start(tiny, "雨が")
    for _ in range(4):
        gen = extend(tiny, gen, settings)
    assert gen.ids == generate(tiny, "雨が", 4, settings).ids


def test_greedy_is_the_argmax_of_the_model(tiny):
    gen = generate(tiny, "鳥が", 5, Settings(greedy=True, temperature=1.7, seed=123))
    ids = list(gen.prompt_ids)
    for step in gen.steps:
        with torch.no_grad():
            logits = tiny.model(input_ids=torch.tensor([ids])).logits[0, -1]
        assert step.id == int(torch.argmax(logits))
        ids.append(step.id)


def test_each_step_shows_its_distribution_and_attention_row(tiny):
    gen = generate(tiny, "鳥が", 3, Settings(top_k=5, seed=1))
    for i, step in enumerate(gen.steps):
        assert step.id in [c.id for c in step.candidates], "the chosen token is always shown"
        assert len([c for c in step.candidates if c.prob > 0]) <= 5, "top-k cut"
        assert step.attention.shape == (tiny.n_layers, tiny.n_heads, len(gen.prompt_ids) + i + 1)
        np.testing.assert_allclose(step.attention.sum(-1), 1.0, atol=1e-5)


def test_top_p_keeps_the_smallest_nucleus():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    p = distribution(logits, Settings(top_p=0.7))
    np.testing.assert_allclose(p, [0.5 / 0.8, 0.3 / 0.8, 0, 0])


def test_homophone_table_and_candidates():
    table = load_homophones()
    assert {"鳴く", "泣く", "無く"} <= set(table["ナク"])
    ms = split_morphemes("鳥がナク")
    (cand,) = find_candidates(ms, table)
    assert cand.surface == "ナク", "the particle が is not offered"
    offered = find_candidates(split_morphemes("ネコがネル"), {})
    assert [c.surface for c in offered] == ["ネコ", "ネル"], "any kana content word; the teacher types spellings"
    assert variants("鳥がナク", ms[cand.morpheme], cand.spellings + parse_extra("亡く、なく")) == (
        "鳥がナク", "鳥が鳴く", "鳥が泣く", "鳥が無く", "鳥がなく", "鳥が亡く"
    )


def test_relative_probabilities_and_sentence_lists():
    p = relative_probabilities([-1.0, -2.0])
    np.testing.assert_allclose(p, [1 / (1 + np.e ** -1), 1 - 1 / (1 + np.e ** -1)])
    assert parse_sentences("a\n\n b \na") == ("a", "b")


@pytest.mark.integration
@pytest.mark.parametrize("text, best", [("鳥がナク", "鳥が鳴く"), ("赤ちゃんがナク", "赤ちゃんが泣く")])
def test_the_lens_ranks_the_reading_the_context_wants_first(gemma, text, best):
    ms = split_morphemes(text)
    cand = find_candidates(ms, load_homophones())[0]
    options = variants(text, ms[cand.morpheme], cand.spellings)
    scores = score_sentences(gemma, options)
    ranked = [s.text for s in sorted(scores, key=lambda s: -s.logprob)]
    assert ranked[0] == best
    assert relative_probabilities([s.logprob for s in scores]).max() > 0.5


def test_particles_are_not_offered_to_the_lens():
    ms = split_morphemes("アメの日にカミをキル")
    offered = [c.surface for c in find_candidates(ms, load_homophones())]
    assert offered and not {"の", "に", "を"} & set(offered), offered
    assert find_candidates(split_morphemes("雨が激しく降る"), load_homophones()) == ()

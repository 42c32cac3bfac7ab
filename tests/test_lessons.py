"""Lessons are data; every claim kind is checked against an independent
oracle on the tiny model; every lesson's claims hold on the bundled model."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from claims_utils import assert_claims_hold
import torch

from components import links
from components.analysis import run_analysis, run_forward, score_sentences, tokenize
from components.generation import Settings, generate, start
from components.homophones import relative_probabilities
from components.i18n import STRINGS
from components.icl import few_shot_curve, induction_scores, load_tasks, repeated_random_tokens, shuffle_answers
from components.inference import forward, model_turn
from components.lessons import (
    CLAIM_KINDS, ClaimResult, Probe, check_claim, direct_probe, load_lessons, parse_lesson, percent, position_after,
    stated_numbers, validate_claim,
)
from components.pages import PAGES
from components.sampling import top_probs

LESSONS = load_lessons()
TEXT = "鳥がナク"


@pytest.fixture(scope="module")
def probe(tiny):
    return direct_probe(tiny)


@pytest.fixture(scope="module")
def at(tiny):
    """The tiny model's analysis of 鳥がナク, with the unmasked run."""
    return run_analysis(tiny, TEXT, scores=True, unmasked=True)


def on(text=TEXT, layer=1, head=1, icl_task=""):
    """Defaults for a claim: what a lesson or an example sentence supplies."""
    return SimpleNamespace(text=text, layer=layer, head=head, icl_task=icl_task)


def both_languages(result: ClaimResult) -> None:
    ja, en = result.summary("ja"), result.summary("en")
    assert ja and en and ja != en, (ja, en)
    assert "{" not in ja + en, "every placeholder is filled"


# ------------------------------------------------------------- lessons


def test_the_lessons_exist_and_load():
    assert len(LESSONS) >= 7
    ids = [lesson.id for lesson in LESSONS]
    assert ids == sorted(ids)
    texts = {lesson.text for lesson in LESSONS} | {lesson.compare_text for lesson in LESSONS}
    assert {"鳥がナク", "赤ちゃんがナク", "雨が激しく降る"} <= texts
    for lesson in LESSONS:
        assert lesson.page in links.PAGES
        assert links.params_to_state({"lesson": lesson.id})["lesson"] == lesson.id, "ids fit in a link"
        for name in ("title", "look", "question", "answer"):
            assert lesson.get(name, "ja") and lesson.get(name, "en")
        assert lesson.claims, "every lesson states something the tests can check"


def test_every_page_has_a_lesson():
    assert {lesson.page for lesson in LESSONS} == set(PAGES) - {"lessons"}


def test_a_title_does_not_give_its_answer_away():
    mask = next(lesson for lesson in LESSONS if lesson.id.startswith("03"))
    assert mask.get("title", "ja").endswith("？") and mask.get("title", "en").endswith("?")
    assert "写" not in mask.get("title", "ja") and "cop" not in mask.get("title", "en")


def test_the_first_lesson_hides_the_sink():
    assert LESSONS[0].hide_sink and LESSONS[0].view == "morpheme"


def test_a_lesson_missing_a_field_is_refused():
    with pytest.raises(ValueError, match="answer_en"):
        parse_lesson("x", {"text": "a", "page": "explorer", "layer": 0, "head": 0, "pos": 0,
                           **{f"{n}_{l}": "t" for n in ("title", "look", "question", "answer") for l in ("ja", "en")
                              if (n, l) != ("answer", "en")}})


def _lesson_data(**more):
    return {"text": "a", "page": "explorer", "layer": 0, "head": 0, "pos": 0,
            **{f"{n}_{l}": "t" for n in ("title", "look", "question", "answer") for l in ("ja", "en")}, **more}


def test_a_lesson_with_a_wrong_page_task_or_claim_is_refused():
    with pytest.raises(ValueError, match="page"):
        parse_lesson("x", _lesson_data(page="nowhere"))
    with pytest.raises(ValueError, match="icl_task"):
        parse_lesson("x", _lesson_data(page="icl"))
    with pytest.raises(ValueError, match="icl_task"):
        parse_lesson("x", _lesson_data(page="icl", icl_task="no-such-task"))
    with pytest.raises(ValueError, match="unknown claim kind"):
        parse_lesson("x", _lesson_data(claims=[{"kind": "is_clever"}]))
    with pytest.raises(ValueError, match="after, token"):
        parse_lesson("x", _lesson_data(claims=[{"kind": "rank_at_most", "rank": 3}]))
    with pytest.raises(ValueError, match="tempo"):
        validate_claim({"kind": "same_text", "prompt": "a", "steps": 1, "a": {"tempo": 1}, "b": {}, "equal": True})


def test_claim_kinds_are_known():
    assert all(c["kind"] in CLAIM_KINDS for lesson in LESSONS for c in lesson.claims)


def test_position_after(tiny):
    a = run_analysis(tiny, "鳥がナク")
    assert position_after(a, "鳥が") == 2
    with pytest.raises(ValueError):
        position_after(a, "鳥がナ ")


def test_percent_reads_like_the_notes():
    assert [percent(p) for p in (0.52351, 0.04706, 0.00135, 0.0007, 1.0, 0.0)] == \
        ["52.4%", "4.71%", "0.135%", "0.0700%", "100%", "0%"]


def test_stated_numbers():
    ja = stated_numbers("「鳴」が1位（4.71%）、「泣」は134位。0.538 と 0.275、50 個のうち 38 個。温度 0.3、層 4")
    assert ja == {"#1", "4.71%", "#134", "w0.538", "w0.275", "n50", "n38"}
    assert stated_numbers("泣 ranks 12 (1.07%); 49 of the 72 heads") == {"#12", "1.07%", "n49", "n72"}


# ---------------------------------------------------- attention claims


def _row(at, layer, head, query):  # oracle: the raw [key] row of a token, straight from the attentions
    return at.attentions[layer, head, query, : query + 1]


def test_attends_most_and_more_against_the_raw_row(probe, at):
    row = _row(at, 1, 1, 4)  # ク looks at <bos> 鳥 が ナ ク
    order = [int(j) for j in np.argsort(-row[1:]) + 1]  # <bos> left out
    first, last = at.token_labels[order[0]], at.token_labels[order[-1]]
    claim = {"kind": "attends_most", "query": "ク", "key": first, "view": "token"}
    held = check_claim(claim, on(), probe)
    assert held.ok and f"{row[order[0]]:.3f}" in held.summary("en")
    both_languages(held)
    failed = check_claim({**claim, "key": last}, on(), probe)
    assert not failed.ok and first in failed.summary("ja"), "it names the key that really wins"
    # with hide_sink the row is renormalised, but the winner stays
    assert check_claim({**claim, "hide_sink": True}, on(), probe).ok
    with_bos = at.token_labels[int(np.argmax(row))]
    assert check_claim({**claim, "key": with_bos, "include_bos": True}, on(), probe).ok

    ratio = row[order[0]] / row[order[-1]]
    more = {"kind": "attends_more", "query": "ク", "key": first, "other": last, "view": "token"}
    assert check_claim(more, on(), probe).ok
    assert not check_claim({**more, "key": last, "other": first}, on(), probe).ok
    assert check_claim({**more, "ratio_at_least": ratio * 0.99}, on(), probe).ok
    assert not check_claim({**more, "ratio_at_least": ratio * 1.01}, on(), probe).ok
    both_languages(check_claim(more, on(), probe))


def test_attends_more_in_morpheme_units(probe, at):
    units = at.unit_labels  # <bos> 鳥 が ナク
    row = at.unit_attentions[0, 1, units.index("ナク")]
    key, other = ("鳥", "が") if row[units.index("鳥")] > row[units.index("が")] else ("が", "鳥")
    claim = {"kind": "attends_more", "query": "ナク", "key": key, "other": other, "layer": 0, "head": 1}
    assert check_claim(claim, on(), probe).ok
    assert not check_claim({**claim, "key": other, "other": key}, on(), probe).ok


def test_heads_agree_counts_every_head(probe, at):
    count = sum(bool(_row(at, l, h, 4)[1] > _row(at, l, h, 4)[2]) for l in range(2) for h in range(2))
    claim = {"kind": "heads_agree", "query": "ク", "key": "鳥", "other": "が", "view": "token", "at_least": count}
    result = check_claim(claim, on(), probe)
    assert result.ok and f"{count} of 4" in result.summary("en")
    assert not check_claim({**claim, "at_least": count + 1}, on(), probe).ok


def test_future_is_zero_and_fails_on_unmasked_attention(probe, at):
    assert check_claim({"kind": "future_is_zero"}, on(), probe).ok
    peeking = replace(probe, analyze=lambda text, unmasked: replace(at, attentions=at.unmasked_attentions))
    failed = check_claim({"kind": "future_is_zero"}, on(), peeking)
    assert not failed.ok and failed.summary("en") != "largest weight on a future token = 0"


def test_prefix_unchanged(probe):
    claim = {"kind": "prefix_unchanged", "other": "鳥が鳴く", "after": "鳥が"}
    held = check_claim(claim, on(), probe)
    assert held.ok
    both_languages(held)
    assert not check_claim({**claim, "tol": -1.0}, on(), probe).ok, "the difference is measured"
    assert check_claim({**claim, "other": "猫が鳴く"}, on(), probe).key == "claim_no_prefix"


# ---------------------------------------------------- prediction claims


def _full_logits(tiny, text):  # oracle: the model's own logits over the whole vocabulary [position, vocab]
    with model_turn():
        return forward(tiny, [t.id for t in tokenize(tiny, text)]).logits[0].double()


def _piece(tiny, token_id):
    return tiny.tokenizer.convert_ids_to_tokens(int(token_id))


def test_next_more_likely_against_the_full_softmax(tiny, probe):
    p = torch.softmax(_full_logits(tiny, TEXT)[2], -1)  # after 鳥が
    top = torch.argsort(p, descending=True)
    a, b = int(top[0]), int(top[5])
    claim = {"kind": "next_more_likely", "after": "鳥が", "token": _piece(tiny, a), "than": _piece(tiny, b)}
    held = check_claim(claim, on(), probe)
    assert held.ok and percent(float(p[a])) in held.summary("ja")
    both_languages(held)
    assert not check_claim({**claim, "token": claim["than"], "than": claim["token"]}, on(), probe).ok
    ratio = float(p[a] / p[b])
    assert check_claim({**claim, "ratio_at_least": ratio * 0.99}, on(), probe).ok
    assert not check_claim({**claim, "ratio_at_least": ratio * 1.01}, on(), probe).ok
    # a token outside the kept top-256 has only an upper bound: it never wins, and is shown as "<"
    outside = int(top[1000])
    low = check_claim({**claim, "token": _piece(tiny, outside)}, on(), probe)
    assert not low.ok and "<" in low.summary("en")
    assert check_claim({**claim, "than": _piece(tiny, outside)}, on(), probe).ok


def test_top_next_and_rank_against_the_full_logits(tiny, probe):
    logits = _full_logits(tiny, TEXT)[2]
    order = torch.argsort(logits, descending=True)
    top = check_claim({"kind": "top_next", "after": "鳥が", "token": _piece(tiny, order[0])}, on(), probe)
    assert top.ok
    both_languages(top)
    assert not check_claim({"kind": "top_next", "after": "鳥が", "token": _piece(tiny, order[1])}, on(), probe).ok
    fifth = _piece(tiny, order[4])
    assert int((logits > logits[order[4]]).sum()) + 1 == 5
    rank = {"kind": "rank_at_most", "after": "鳥が", "token": fifth, "rank": 5, "min_rank": 5}
    held = check_claim(rank, on(), probe)
    assert held.ok and "5位" in held.summary("ja")
    both_languages(held)
    assert not check_claim({**rank, "rank": 4, "min_rank": 1}, on(), probe).ok
    assert not check_claim({**rank, "min_rank": 6, "rank": 10}, on(), probe).ok
    far = check_claim({**rank, "token": _piece(tiny, order[300]), "rank": 1000, "min_rank": 1}, on(), probe)
    assert not far.ok and ">256" in far.summary("en"), "beyond the kept top-256 the rank is not known exactly"


def test_unmasked_claims(tiny, probe, at):
    top = at.labels[int(at.unmasked_next_logits.top_ids[2, 0])]
    held = check_claim({"kind": "top_next", "after": "鳥が", "token": top, "unmasked": True}, on(), probe)
    assert held.ok and held.key == "claim_top_unmasked"
    masked = check_claim({"kind": "top_next", "after": "鳥が", "token": top}, on(), probe)
    assert masked.key == "claim_top" and "マスク" not in masked.summary("ja"), "a masked claim does not say where"
    moved = float(at.unmasked_shift[2])
    assert check_claim({"kind": "moved_more_than", "after": "鳥が", "threshold": moved * 0.9}, on(), probe).ok
    assert not check_claim({"kind": "moved_more_than", "after": "鳥が", "threshold": moved * 1.1}, on(), probe).ok
    no_lift = replace(probe, analyze=lambda text, unmasked: run_analysis(tiny, text))
    said = check_claim({"kind": "moved_more_than", "after": "鳥が", "threshold": 0.1}, on(), no_lift)
    assert not said.ok and said.key == "claim_no_unmasked"


def test_temperature_claims(probe, at):
    sharper = {"kind": "sharper_when_colder", "after": "鳥が", "low": 0.3, "high": 2.0}
    assert check_claim(sharper, on(), probe).ok, "the top token's probability falls as the temperature rises"
    assert not check_claim({**sharper, "low": 2.0, "high": 0.3}, on(), probe).ok
    p = float(top_probs(at.next_logits, 0.3)[2, 0])
    token = at.labels[int(at.next_logits.top_ids[2, 0])]
    between = {"kind": "top_prob_between", "after": "鳥が", "token": token, "temperature": 0.3,
               "at_least": p * 0.99, "at_most": p * 1.01}
    assert check_claim(between, on(), probe).ok
    assert not check_claim({**between, "at_least": p * 1.01, "at_most": p * 2}, on(), probe).ok


# ---------------------------------------------------- generation claims


def _greedy_oracle(tiny, prompt, steps):
    ids = [t.id for t in tokenize(tiny, prompt)]
    for _ in range(steps):
        with model_turn():
            ids.append(int(forward(tiny, ids).logits[0, -1].argmax()))
    return tiny.tokenizer.decode(ids[-steps:], skip_special_tokens=True)


def test_greedy_text_against_a_hand_rolled_argmax(tiny, probe):
    text = _greedy_oracle(tiny, "鳥が", 4)
    claim = {"kind": "greedy_text_starts_with", "prompt": "鳥が", "steps": 4, "prefix": text[:2]}
    held = check_claim(claim, on(), probe)
    assert held.ok and text in held.summary("ja")
    both_languages(held)
    assert not check_claim({**claim, "prefix": "鳴る"}, on(), probe).ok


def test_same_text(probe):
    greedy = {"kind": "same_text", "prompt": "鳥が", "steps": 4, "a": {"greedy": True, "seed": 0},
              "b": {"greedy": True, "seed": 5}, "equal": True}
    held = check_claim(greedy, on(), probe)
    assert held.ok
    both_languages(held)
    assert not check_claim({**greedy, "equal": False}, on(), probe).ok
    drawn = {**greedy, "a": {"temperature": 1.0, "seed": 0}, "b": {"temperature": 1.0, "seed": 1}, "equal": False}
    assert check_claim(drawn, on(), probe).ok, "different seeds draw different tokens from a flat distribution"


def test_first_token_share_is_the_generation_pages_first_draw(tiny, probe):
    gen = start(tiny, "鳥が")
    top = _piece(tiny, int(np.argmax(gen.next_logits)))
    claim = {"kind": "first_token_share", "prompt": "鳥が", "token": top, "temperature": 1.0, "top_k": 1, "seeds": 10,
             "at_least": 1.0, "at_most": 1.0}
    held = check_claim(claim, on(), probe)
    assert held.ok and "10 of 10" in held.summary("en")
    both_languages(held)
    # the page's own draws (step 0 of a sampled generation, seed s) give the same share
    settings = Settings(temperature=2.0)
    draws = [generate(tiny, "鳥が", 1, replace(settings, seed=s)).steps[0].id for s in range(20)]
    token = max(set(draws), key=draws.count)
    share = draws.count(token) / 20
    exact = {**claim, "token": _piece(tiny, token), "temperature": 2.0, "seeds": 20, "at_least": share, "at_most": share}
    del exact["top_k"]
    assert check_claim(exact, on(), probe).ok
    assert not check_claim({**exact, "at_least": share + 0.05, "at_most": 1.0}, on(), probe).ok


# ---------------------------------------------------- homophone claims


def test_best_spelling_against_score_sentences(tiny, probe):
    texts = ["鳥がナク", "鳥が鳴く", "鳥が泣く", "鳥が無く", "鳥がなく"]
    names = ["ナク", "鳴く", "泣く", "無く", "なく"]
    rel = relative_probabilities([s.logprob for s in score_sentences(tiny, texts)])
    best, worst = names[int(np.argmax(rel))], names[int(np.argmin(rel))]
    claim = {"kind": "best_spelling", "word": "ナク", "best": best}
    held = check_claim(claim, on(), probe)
    assert held.ok and percent(float(rel.max())) in held.summary("ja")
    both_languages(held)
    assert not check_claim({**claim, "best": worst}, on(), probe).ok
    assert not check_claim({**claim, "at_least": float(rel.max()) + 0.01}, on(), probe).ok
    assert check_claim({**claim, "word": "トブ"}, on(), probe).key == "claim_no_unit"
    pair = check_claim({**claim, "spellings": ["鳴く"], "best": names[int(np.argmax(rel[:2]))]}, on(), probe)
    assert pair.ok, "typed spellings replace the table's"


# ----------------------------------------------------- few-shot claims


def test_few_shot_claims_against_the_curve(tiny, probe):
    task = next(t for t in load_tasks() if t.id == "antonyms")
    curve = few_shot_curve(tiny, task.pairs, task.query, task.answer)
    low, high = curve[0].answer_prob, curve[4].answer_prob
    rises = {"kind": "few_shot_rises", "task": "antonyms", "n_low": 0, "at_most": low, "n_high": 4, "at_least": high}
    held = check_claim(rises, on(), probe)
    assert held.ok
    both_languages(held)
    assert not check_claim({**rises, "at_least": high * 1.01}, on(), probe).ok
    assert not check_claim({**rises, "at_most": low * 0.99}, on(), probe).ok
    assert check_claim({**rises, "n_high": 9}, on(), probe).key == "claim_no_demos"
    assert check_claim({**rises, "task": "no-such-task"}, on(), probe).key == "claim_no_task"
    # a lesson's own task is the default
    assert check_claim({k: v for k, v in rises.items() if k != "task"}, on(icl_task="antonyms"), probe).ok

    shuffled = few_shot_curve(tiny, shuffle_answers(task.pairs, 1), task.query, task.answer)
    peak = max(p.answer_prob for p in shuffled)
    below = {"kind": "few_shot_stays_below", "task": "antonyms", "shuffle_seed": 1, "at_most": peak}
    assert check_claim(below, on(), probe).ok
    assert not check_claim({**below, "at_most": peak * 0.99}, on(), probe).ok
    both_languages(check_claim(below, on(), probe))

    first = tiny.tokenizer.convert_ids_to_tokens(tiny.tokenizer(task.answer, add_special_tokens=False)["input_ids"][0])
    starts = {"kind": "top_is_answer_start", "task": "antonyms", "n": 2, "expect": curve[2].top_text == first}
    assert check_claim(starts, on(), probe).ok
    assert not check_claim({**starts, "expect": not starts["expect"]}, on(), probe).ok
    both_languages(check_claim(starts, on(), probe))


def test_best_induction_head_against_the_scores(tiny, probe):
    runs = []
    for seed in (0, 1):
        ids = repeated_random_tokens(tiny, 12, seed)
        runs.append(induction_scores(run_forward(tiny, ids).attentions, 12, len(ids) - 24))
    best = [np.unravel_index(int(np.argmax(s)), s.shape) for s in runs]
    layer, head = (int(i) for i in best[0])
    claim = {"kind": "best_induction_head", "layer": layer, "head": head, "length": 12, "seeds": [0]}
    held = check_claim(claim, on(), probe)
    assert held.ok and f"{runs[0][layer, head]:.3f}" in held.summary("en")
    both_languages(held)
    assert not check_claim({**claim, "at_least": float(runs[0][layer, head]) + 0.01}, on(), probe).ok
    other = check_claim({**claim, "layer": 1 - layer}, on(), probe)
    assert not other.ok and other.key == "claim_induction_other"
    both_languages(other)
    assert check_claim({**claim, "layer": 5}, on(), probe).key == "claim_no_head"
    both_seeds = check_claim({**claim, "seeds": [0, 1]}, on(), probe)
    assert both_seeds.ok == (tuple(best[0]) == tuple(best[1]))


def test_lens_top_against_the_lens(tiny, probe):
    from components.lens import run_lens

    lens = run_lens(tiny, TEXT)
    column = lens.column(2)  # after 鳥が
    top = lens.labels[int(lens.top_ids[2, column, 0])]  # the output of layer 1 (row 2)
    held = check_claim({"kind": "lens_top", "after": "鳥が", "token": top, "layers": [1]}, on(), probe)
    assert held.ok and top in held.summary("ja")
    both_languages(held)
    other = lens.labels[int(lens.top_ids[2, column, 1])]
    assert not check_claim({"kind": "lens_top", "after": "鳥が", "token": other, "layers": [1]}, on(), probe).ok
    assert check_claim({"kind": "lens_top", "after": "鳥が", "token": top, "layers": [7]}, on(), probe).key == \
        "claim_no_head"


def test_knockout_heads_against_the_knockouts(tiny, probe):
    from components.knockout import run_knockouts

    ko = run_knockouts(tiny, TEXT, "ナ", None, 2)
    strongest = [[layer, head] for layer, head, _ in ko.strongest(2)]
    claim = {"kind": "knockout_heads", "after": "鳥が", "target": "ナ", "heads": strongest}
    held = check_claim(claim, on(), probe)
    assert held.ok and f"{ko.baseline:.2f}" in held.summary("en")
    both_languages(held)
    weakest = [[layer, head] for layer in range(2) for head in range(2) if [layer, head] not in strongest]
    assert not check_claim({**claim, "heads": weakest}, on(), probe).ok
    assert not check_claim({**claim, "at_least": 1e6}, on(), probe).ok, "each drop must be large enough"


def test_rlhf_claims_read_the_finished_run(tiny, probe, tmp_path, monkeypatch):
    from components import rlhf

    monkeypatch.setenv("ATTENTION_CLASSROOM_CACHE", str(tmp_path))
    task = rlhf.load_task("film-review")
    run = rlhf.run_all(task, rlhf.RlhfSettings(model_id=tiny.model_id, sft_steps=2, policy_steps=2, n_eval=4,
                                               best_of=2, max_new_tokens=4))
    trained = replace(probe, rlhf=lambda task_id: run if task_id == task.id else None)
    lesson = SimpleNamespace(rlhf_task=task.id)
    s, p = run.sft, run.policy
    demos = check_claim({"kind": "rlhf_trained", "measure": "sft_demos", "at_least": -1e6}, lesson, trained)
    assert demos.ok and f"{s.demo_logprob_before:.2f}" in demos.summary("en")
    assert f"{s.demo_logprob_after:.2f}" in demos.summary("ja")
    both_languages(demos)
    rise = s.demo_logprob_after - s.demo_logprob_before
    assert not check_claim({"kind": "rlhf_trained", "measure": "sft_demos", "at_least": rise + 1e-6}, lesson, trained).ok
    held = check_claim({"kind": "rlhf_trained", "measure": "rm_heldout", "at_least": 0.0}, lesson, trained)
    n = len(run.reward.heldout_pairs)
    assert held.ok and f"of {n} held-out pairs" in held.summary("en")
    gain = check_claim({"kind": "rlhf_trained", "measure": "policy_gain", "at_least": -1e6}, lesson, trained)
    assert f"{p.policy.mean:.2f}" in gain.summary("en") and f"{p.gain_se:.2f}" in gain.summary("en")
    assert gain.ok == (p.gain / p.gain_se >= -1e6)
    untrained = check_claim({"kind": "rlhf_trained", "measure": "sft_demos", "at_least": 0, "task": "polite-reply"},
                            lesson, trained)
    assert not untrained.ok and untrained.key == "claim_rlhf_untrained"
    assert "--task polite-reply" in untrained.summary("ja")
    unknown = check_claim({"kind": "rlhf_trained", "measure": "vibes", "at_least": 0}, lesson, trained)
    assert unknown.key == "claim_error" and "vibes" in unknown.summary("en")


def test_an_rlhf_lesson_names_a_known_task():
    data = {k: v for k, v in _lesson_data(page="rlhf").items() if k not in ("layer", "head", "pos")}
    with pytest.raises(ValueError, match="rlhf_task"):
        parse_lesson("x", data)
    with pytest.raises(ValueError, match="rlhf_task"):
        parse_lesson("x", {**data, "rlhf_task": "no-such-task"})
    assert parse_lesson("x", {**data, "rlhf_task": "film-review"}).rlhf_task == "film-review"


# ------------------------------------------------- claims that cannot be checked


def test_a_claim_that_cannot_be_checked_says_why(tiny, probe):
    lesson = LESSONS[0]
    result = check_claim({"kind": "attends_more", "query": "ナク", "key": "鳥", "other": "が"}, lesson, probe)
    assert not result.ok and result.key == "claim_no_head", "the tiny model has 2 layers, the lesson names layer 4"
    assert "4" in result.summary("ja") and "4" in result.summary("en")
    missing = check_claim({"kind": "next_more_likely", "after": "鳥が", "token": "鳴る時", "than": "泣"}, lesson, probe)
    assert missing.key == "claim_no_token" and not missing.ok
    unit = check_claim({"kind": "attends_most", "query": "ナク", "key": "猫", "layer": 0, "head": 0}, lesson, probe)
    assert unit.key == "claim_no_unit" and "猫" in unit.summary("en")
    broken = check_claim({"kind": "rank_at_most", "after": "鳥が"}, lesson, probe)
    assert broken.key == "claim_error" and "token" in broken.summary("en")
    both_languages(broken)


def test_a_failing_model_never_reaches_the_page(probe):
    def boom(*args):
        raise RuntimeError("the model fell over")

    from dataclasses import fields

    down = Probe(*(boom for _ in fields(Probe)))
    for claim in [{"kind": "top_next", "after": "鳥が", "token": "鳴"},
                  {"kind": "greedy_text_starts_with", "prompt": "鳥が", "steps": 2, "prefix": "鳴"},
                  {"kind": "best_induction_head", "seeds": [0]},
                  {"kind": "lens_top", "after": "鳥が", "token": "鳴", "layers": [0]}]:
        result = check_claim(claim, on(), down)
        assert not result.ok and "fell over" in result.summary("ja")


def test_every_claim_key_is_in_both_languages():
    import re

    from pathlib import Path

    source = Path(__file__).resolve().parents[1].joinpath("components", "lessons.py").read_text(encoding="utf-8")
    keys = set(re.findall(r'"(claim_\w+)"', source))
    assert len(keys) >= 25
    for key in keys:
        assert key in STRINGS and STRINGS[key]["ja"] and STRINGS[key]["en"], key


# ------------------------------------------------------- on the bundled model


@pytest.mark.integration
@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_every_claim_holds_on_the_bundled_model(gemma_probe, lesson):
    assert_claims_hold(lesson, gemma_probe, lambda lang: lesson.get("answer", lang))


@pytest.mark.integration
def test_the_few_shot_lesson_names_the_head_the_page_finds(gemma):
    """The in-context-learning lesson's induction head is the argmax of the page's own search (seed 0)."""
    lesson = next(lesson for lesson in LESSONS if lesson.page == "icl")
    claim = next(c for c in lesson.claims if c["kind"] == "best_induction_head")
    assert 0 in claim["seeds"]
    ids = repeated_random_tokens(gemma, 30, 0)
    scores = induction_scores(run_forward(gemma, ids).attentions, 30, len(ids) - 60)
    assert tuple(int(i) for i in np.unravel_index(int(np.argmax(scores)), scores.shape)) == (claim["layer"], claim["head"])

"""Example sentences are data: each carries the view that shows its point,
a note in both languages, and claims that back every statement of the note;
the claims hold on the bundled model."""

import pytest

from claims_utils import assert_claims_hold

from components import links
from components.analysis import run_analysis
from components.examples import example_for, load_sentences
from components.lessons import check_claim, stated_numbers, validate_claim
from components.views import VIEWS, prefix_text

EXAMPLES = load_sentences()


def test_every_example_has_a_view_a_note_and_claims():
    texts = [e.text for e in EXAMPLES]
    assert {"鳥がナク", "鳥が鳴く", "赤ちゃんがナク", "雨が激しく降る"} <= set(texts)
    assert len(texts) == len(set(texts))
    for example in EXAMPLES:
        assert example.note("ja") and example.note("en") and example.note("ja") != example.note("en")
        assert example.view in VIEWS
        assert example.pos is not None, "the next-token chart opens where the note points"
        state = links.params_to_state({"layer": str(example.layer), "head": str(example.head), "pos": str(example.pos)})
        assert (state["layer"], state["head"], state["pos"]) == (example.layer, example.head, example.pos)
        assert example.claims, f"{example.text}: the note's statements are checked"
        for claim in example.claims:
            validate_claim(claim)
        assert example.note("ja").count("。") <= 2, "at most two short sentences"


def test_example_for_finds_the_view():
    example = example_for("鳥がナク")
    assert (example.layer, example.head, example.pos, example.view, example.hide_sink) == (4, 0, 2, "morpheme", True)
    assert example_for("not an example") is None


def test_the_examples_positions_fit_their_sentences(tiny):
    for example in EXAMPLES:
        a = run_analysis(tiny, example.text)
        assert 0 <= example.pos < a.n_tokens


@pytest.mark.integration
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.text for e in EXAMPLES])
def test_every_example_claim_holds_on_the_bundled_model(gemma_probe, example):
    assert_claims_hold(example, gemma_probe, example.note)


@pytest.mark.integration
def test_the_examples_open_on_what_their_notes_point_at(gemma):
    """The next-token chart of each example opens after the text its prediction claims are about."""
    for example in EXAMPLES:
        a = run_analysis(gemma, example.text)
        afters = {c["after"] for c in example.claims if "after" in c and c.get("text", example.text) == example.text}
        if afters:
            assert prefix_text(a, example.pos) in afters, example.text


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_teachers_guide_states_only_measured_numbers(gemma_probe, lang):
    """Every probability, weight, rank and count in docs/teachers*.md is one a
    lesson or an example claim measures on the bundled model, rounded the same way."""
    from components.lessons import load_lessons
    from components.ui.shell import GUIDES
    from conftest import ROOT

    probe = gemma_probe  # shared: every claim runs once per test session
    measured = set()
    for holder in (*load_lessons(), *load_sentences()):
        for claim in holder.claims:
            result = check_claim(claim, holder, probe)
            assert result.ok, result.summary("en")
            measured |= stated_numbers(result.summary(lang))
    stated = stated_numbers((ROOT / GUIDES[lang]).read_text(encoding="utf-8"))
    assert stated and not stated - measured, sorted(stated - measured)

"""Lessons are data; every lesson's claims hold on the bundled model."""

import pytest

from components import links
from components.analysis import run_analysis
from components.lessons import CLAIM_KINDS, check_claim, load_lessons, parse_lesson, position_after

LESSONS = load_lessons()


def test_the_four_lessons_exist_and_load():
    assert len(LESSONS) >= 4
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


def test_a_lesson_missing_a_field_is_refused():
    with pytest.raises(ValueError, match="answer_en"):
        parse_lesson("x", {"text": "a", "page": "explorer", "layer": 0, "head": 0, "pos": 0,
                           **{f"{n}_{l}": "t" for n in ("title", "look", "question", "answer") for l in ("ja", "en")
                              if (n, l) != ("answer", "en")}})


def test_claim_kinds_are_known():
    assert all(c["kind"] in CLAIM_KINDS for lesson in LESSONS for c in lesson.claims)


def test_position_after(tiny):
    a = run_analysis(tiny, "鳥がナク")
    assert position_after(a, "鳥が") == 2
    with pytest.raises(ValueError):
        position_after(a, "鳥がナ ")


@pytest.mark.integration
@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_every_claim_holds_on_the_bundled_model(gemma, lesson):
    cache = {}

    def analyze(text, unmasked):
        key = (text, unmasked)
        if key not in cache:
            cache[key] = run_analysis(gemma, text, scores=unmasked, unmasked=unmasked)
        return cache[key]

    def token_id(piece):
        tid = gemma.tokenizer.convert_tokens_to_ids(piece)
        return None if tid == gemma.tokenizer.unk_token_id else tid

    for claim in lesson.claims:
        result = check_claim(claim, lesson, analyze, token_id)
        assert result.ok, f"{lesson.id}: {claim} -> {result.summary('en')}"
        assert result.summary("ja") != result.summary("en"), "the numbers are told in both languages"


def test_a_claim_that_cannot_be_checked_says_why(tiny):
    lesson = LESSONS[0]
    def analyze(text, unmasked):
        return run_analysis(tiny, text, scores=unmasked, unmasked=unmasked)
    result = check_claim({"kind": "attends_more", "query": "ナク", "key": "鳥", "other": "が"}, lesson, analyze,
                         lambda piece: None)
    assert not result.ok and result.key == "claim_no_head", "the tiny model has 2 layers, the lesson names layer 4"
    assert "4" in result.summary("ja") and "4" in result.summary("en")
    missing = check_claim({"kind": "next_more_likely", "after": "鳥が", "token": "鳴", "than": "泣"}, lesson,
                          analyze, lambda piece: None)
    assert missing.key == "claim_no_token" and not missing.ok


def test_every_claim_kind_formats_in_both_languages():
    from components.lessons import ClaimResult

    samples = {
        "claim_attends": {"layer": 4, "head": 0, "query": "ナク", "to": "鳥", "other": "が", "a": "0.3", "b": "0.1"},
        "claim_more_likely": {"after": "鳥が", "token": "鳴", "than": "泣", "p": "0.04", "q": "0.001"},
        "claim_top": {"after": "鳥が", "top": "鳴", "prob": "4.7%", "unmasked": False},
        "claim_moved": {"after": "鳥が", "moved": "0.36", "threshold": 0.1},
        "claim_future": {"peak": "0"},
        "claim_sharper": {"low": 0.3, "high": 2.0, "a": "0.7", "b": "0.05", "c": "0.004"},
        "claim_top_prob": {"after": "鳥が", "temperature": 0.3, "top": "鳴", "prob": "0.698", "lo": 0.6, "hi": 0.8},
    }
    for key, params in samples.items():
        result = ClaimResult(True, key, params)
        assert result.summary("ja") and result.summary("en") and result.summary("ja") != result.summary("en")

"""Lessons, step-by-step generation and the homophone lens in AppTest."""

import pytest
import streamlit as st

from apptest_utils import array, charts, count_model_calls, new_app, unescape_md
from components.i18n import t
from components.lessons import load_lessons
from components.ui.data import get_model


@pytest.fixture
def app():
    st.cache_data.clear()
    at = new_app()
    at.run()
    return at


def test_lesson_page_steps_through_every_lesson(app, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_CLASSROOM_CACHE", str(tmp_path))  # no RLHF run prepared (test_app_rlhf has one)
    app.switch_page("components/ui/lessons.py").run()
    assert not app.exception
    lessons = load_lessons()
    seen = []
    for i, lesson in enumerate(lessons):
        if i:
            app.button(key="lesson_next").click().run()
        assert not app.exception
        seen.append(app.session_state["lesson"])
        assert unescape_md(app.header[0].value) == lesson.get("title", "ja")
        if lesson.page == "rlhf":  # nothing trained yet: the lesson says how to prepare the run
            assert any(f"--task {lesson.rlhf_task}" in unescape_md(c.value) for c in app.caption), lesson.id
            assert not charts(app)
        else:
            assert any(key.startswith("lesson_fig_") for key in charts(app)), f"{lesson.id} draws its view"
    assert seen == [lesson.id for lesson in lessons]
    app.button(key="lesson_prev").click().run()
    assert app.session_state["lesson"] == seen[-2]


def test_lesson_sets_its_view_and_reveals_the_answer(app):
    app.switch_page("components/ui/lessons.py").run()
    lesson = load_lessons()[0]
    # the lesson's head, as far as the model has it (the tiny model has 2 layers of 2 heads)
    assert (app.session_state["layer"], app.session_state["head"]) == (min(lesson.layer, 1), min(lesson.head, 1))
    assert app.session_state["view"] == lesson.view
    subject = " / ".join(f"「{text}」" for text in lesson.sentences)
    assert subject in [t.value for t in app.text], "the lesson shows the sentences it reads"
    assert not app.success
    app.toggle(key="reveal").set_value(True).run()
    assert app.success[0].value.startswith(lesson.get("answer", "ja")[:5])
    texts = [t.value for t in app.text]
    assert any(t.startswith(("✓", "✗")) for t in texts), "claims are checked on the current model"


def test_the_first_lesson_hides_the_sink_in_its_figures(app):
    app.switch_page("components/ui/lessons.py").run()
    lesson = load_lessons()[0]
    assert app.session_state["hide_sink"] == lesson.hide_sink is True
    figs = charts(app)
    for i, text in enumerate(lesson.sentences):
        rows = [unescape_md(label) for label in figs[f"lesson_fig_{i}"]["layout"]["yaxis"]["ticktext"]]
        assert "<bos>" not in rows and "&lt;bos&gt;" not in rows, "the first-token row and column are hidden"
        assert rows[-1] == "ナク"


def _open_lesson(app, page: str):
    """Step to the first lesson of ``page``, then press "open this view"."""
    app.switch_page("components/ui/lessons.py").run()
    lessons = load_lessons()
    lesson = next(lesson for lesson in lessons if lesson.page == page)
    app.selectbox(key="lesson").set_value(lesson.id).run()
    assert not app.exception
    assert any(key.startswith("lesson_fig_") for key in charts(app)), f"{lesson.id} draws its figure"
    app.button(key="lesson_open").click().run()
    assert not app.exception
    assert app.query_params["page"] == page
    return lesson


def test_the_generation_lesson_opens_its_generation(app):
    lesson = _open_lesson(app, "generate")
    assert app.session_state["text"] == lesson.text
    assert app.session_state["gen_steps"] == lesson.gen_steps > 0
    assert (app.session_state["greedy"], app.session_state["seed"]) == (lesson.greedy, lesson.seed)
    assert {"gen_figs_0", "gen_figs_1"} <= set(charts(app)), "the page shows the generated tokens"


def test_the_homophone_lesson_opens_the_lens_on_its_sentence(app):
    lesson = _open_lesson(app, "homophones")
    assert app.session_state["text"] == lesson.text
    scored = charts(app)["hp_figs_0"]["layout"]["yaxis"]["ticktext"]
    assert {"橋を渡る", "箸を渡る", "端を渡る"} <= set(scored)


def test_the_few_shot_lesson_opens_its_task(app):
    from components.icl import load_tasks

    app.switch_page("components/ui/lessons.py").run()  # the first lesson opens its sentence
    app.switch_page("components/ui/explorer.py").run()
    app.text_input(key="text").input("猫が魚を食べる").run()
    app.switch_page("components/ui/icl.py").run()
    app.text_area(key="icl_demos").input("a→b").run()  # the class typed its own examples before the lesson
    lesson = _open_lesson(app, "icl")
    assert app.session_state["icl_task"] == lesson.icl_task
    task = next(t for t in load_tasks() if t.id == lesson.icl_task)
    assert app.code[0].value.endswith(f"{task.query}→") and "a→b" not in app.code[0].value, "the task's own examples"
    assert app.session_state["text"] == "猫が魚を食べる", "a few-shot lesson leaves the class's sentence alone"


def test_open_this_view_switches_to_the_lesson_page(app):
    app.switch_page("components/ui/lessons.py").run()
    app.button(key="lesson_next").click().run()  # the causal-mask lesson opens the mask page
    app.button(key="lesson_open").click().run()
    assert not app.exception
    assert app.query_params["page"] == "mask"
    assert "mask_stages_0" in charts(app)


def generated_text(at) -> str:
    """What the model wrote, as the page marks it apart from the prompt."""
    marked = [m.value for m in at.markdown if ":orange-background[" in m.value]
    return unescape_md(marked[0].split(":orange-background[", 1)[1].rsplit("]", 1)[0]) if marked else ""


def test_generation_adds_undoes_and_resets(app):
    app.switch_page("components/ui/generate.py").run()
    assert not app.exception
    app.session_state["seed"] = 5
    app.button(key="gen_add").click().run()
    app.button(key="gen_add").click().run()
    first = generated_text(app)
    assert first, "the model's part of the text is marked"
    assert app.session_state["gen_steps"] == 2
    assert {"gen_figs_0", "gen_figs_1"} <= set(charts(app))
    dist = charts(app)["gen_figs_0"]["data"][0]
    assert "#d62728" in list(dist["marker"]["color"]), "the chosen token is highlighted"
    app.button(key="gen_undo").click().run()
    assert app.session_state["gen_steps"] == 1
    app.button(key="gen_add").click().run()
    assert generated_text(app) == first, "the same seed repeats the same draw"
    app.button(key="gen_reset").click().run()
    assert app.session_state["gen_steps"] == 0


def test_each_generation_step_costs_one_forward_pass(app):
    app.switch_page("components/ui/generate.py").run()
    calls, remove = count_model_calls(get_model("tiny-random").model)
    try:
        app.button(key="gen_add").click().run()
        app.button(key="gen_add").click().run()
        assert len(calls) == 2
        app.button(key="gen_undo").click().run()
        assert len(calls) == 2, "undo is a cache hit"
    finally:
        remove()


def test_greedy_generation_in_the_app(app):
    app.switch_page("components/ui/generate.py").run()
    app.toggle(key="greedy").set_value(True).run()
    app.button(key="gen_add").click().run()
    dist = charts(app)["gen_figs_0"]["data"][0]
    probs = array(dist["x"])
    assert list(dist["marker"]["color"])[0] == "#d62728", "greedy takes the most likely token"
    assert probs[0] == probs.max()


def test_homophone_lens_and_minimal_pairs(app):
    app.switch_page("components/ui/homophones.py").run()
    assert not app.exception
    figs = charts(app)
    assert {"hp_figs_0", "hp_figs_1", "pairs_scores"} <= set(figs)
    scored = figs["hp_figs_0"]["layout"]["yaxis"]["ticktext"]
    assert set(scored) == {"鳥がナク", "鳥が鳴く", "鳥が泣く", "鳥が無く", "鳥がなく"}
    app.text_input(key="hp_extra").input("亡く").run()
    assert "鳥が亡く" in charts(app)["hp_figs_0"]["layout"]["yaxis"]["ticktext"]
    app.text_area(key="pairs").input("猫が魚を食べる\n魚が猫を食べる").run()
    assert len(charts(app)["pairs_scores"]["layout"]["yaxis"]["ticktext"]) == 2


def test_homophone_lens_without_a_kana_word(app):
    app.switch_page("components/ui/homophones.py").run()
    app.text_input(key="text").input("雨が激しく降る").run()
    assert not app.exception
    assert app.info, "it says what kind of sentence the lens needs"


@pytest.mark.integration
def test_lens_in_the_app_ranks_the_singing_bird_first(gemma):
    st.cache_data.clear()
    at = new_app(model="gemma-3-270m")
    at.run()
    at.switch_page("components/ui/homophones.py").run()
    assert not at.exception
    fig = charts(at)["hp_figs_0"]
    assert fig["layout"]["yaxis"]["ticktext"][0] == "鳥が鳴く", "best first"


def test_in_context_learning_page(app):
    app.switch_page("components/ui/icl.py").run()
    assert not app.exception
    figs = charts(app)
    assert {"icl_figs_0", "icl_figs_1", "icl_layers"} <= set(figs)
    lines = figs["icl_figs_1"]["layout"]["yaxis"]["ticktext"]
    assert lines == ["&lt;bos&gt;", "大きい→小さい", "高い→低い", "長い→短い", "明るい→暗い", "重い→"], "drawn over the prompt text"
    curve = figs["icl_figs_0"]["data"]
    assert len(array(curve[0]["x"])) == 5, "0 to 4 demonstrations"
    assert app.code[0].value == "大きい→小さい\n高い→低い\n長い→短い\n明るい→暗い\n重い→"
    app.toggle(key="icl_shuffled").set_value(True).run()
    assert len(charts(app)["icl_figs_0"]["data"]) == 3, "the shuffled control is drawn"
    app.selectbox(key="icl_task").set_value("en-ja").run()
    assert app.code[0].value.endswith("fish→")
    app.text_area(key="icl_demos").input("a→b").run()
    assert not app.exception and app.code[0].value == "a→b\nfish→"
    app.button(key="induction_run").click().run()
    assert {"induction_0", "induction_1"} <= set(charts(app))
    assert not app.exception


@pytest.mark.integration
def test_in_context_learning_page_on_gemma(gemma):
    st.cache_data.clear()
    at = new_app(model="gemma-3-270m")
    at.query_params.update({"page": "icl"})
    at.run()
    assert not at.exception
    probs = array(charts(at)["icl_figs_0"]["data"][0]["y"])
    assert probs[0] < 0.05 and probs[3] > 0.5, "antonyms: zero-shot fails, three demonstrations work"
    at.button(key="induction_run").click().run()
    title = charts(at)["induction_1"]["layout"]["title"]["text"]
    # the head the in-context-learning lesson claims (and the tests check on the model)
    lesson = next(lesson for lesson in load_lessons() if lesson.page == "icl")
    claim = next(c for c in lesson.claims if c["kind"] == "best_induction_head")
    expected = t("induction_best", "ja", layer=claim["layer"], head=claim["head"], score="{score}").split("{score}")[0]
    assert title.startswith(expected), f"layer {claim['layer']}, head {claim['head']} is the best induction head"


@pytest.mark.parametrize("page", ["explorer", "mask", "lessons", "generate", "homophones", "icl"])
def test_projector_view_shows_one_figure_per_page(page):
    st.cache_data.clear()
    at = new_app()
    at.query_params.update({"page": page, "projector": "1", "model": "tiny-random"})
    at.run()
    if page == "generate":
        at.button(key="gen_add").click().run()
    if page == "icl":
        at.button(key="induction_run").click().run()
    assert not at.exception
    figs = charts(at)
    # one figure at a time, except a comparison, which stays side by side (the three stages, lesson 1's pair)
    together = {"mask": 3, "lessons": len(load_lessons()[0].sentences)}
    assert len(figs) == together.get(page, 1), (page, list(figs))
    assert all(fig["layout"]["font"]["size"] >= 20 for fig in figs.values()), "large type"


def test_a_visit_to_another_page_keeps_the_lesson_and_the_few_shot_setup(app):
    app.switch_page("components/ui/lessons.py").run()
    app.button(key="lesson_next").click().run()
    app.button(key="lesson_next").click().run()
    lesson = app.session_state["lesson"]
    app.switch_page("components/ui/explorer.py").run()
    app.segmented_control(key="layer").set_value(0).run()  # the teacher looks around
    app.switch_page("components/ui/lessons.py").run()
    assert app.session_state["lesson"] == lesson, "back on the same lesson"
    assert app.session_state["layer"] == 0, "and its view is not re-applied over the teacher's"
    app.switch_page("components/ui/icl.py").run()
    app.text_area(key="icl_demos").input("犬→dog\n猫→cat").run()
    app.switch_page("components/ui/explorer.py").run()
    app.switch_page("components/ui/icl.py").run()
    assert app.session_state["icl_demos"] == "犬→dog\n猫→cat"


def test_typed_spellings_and_demonstrations_stay_literal(app):
    app.switch_page("components/ui/homophones.py").run()
    app.text_input(key="hp_extra").input("**太字**,$x^2$,[link](http://example.com)").run()
    app.switch_page("components/ui/icl.py").run()
    app.text_area(key="icl_demos").input("[l](http://e.com)→**b**\n$x$→<i>y</i>").run()
    assert not app.exception
    for element in list(app.markdown) + list(app.caption) + list(app.info) + list(app.warning):
        for raw in ("**太字**", "[link](", "$x^2$", "[l](", "<i>"):
            assert raw not in element.value, element.value


def test_the_projector_keeps_the_picked_figure_while_tokens_are_added():
    """The picker's labels must not change with each new token, or the pick is lost."""
    at = new_app(projector=True)
    at.run()
    at.switch_page("components/ui/generate.py").run()
    at.button(key="gen_add").click().run()
    picker = [r for r in at.radio if r.key == "gen_figs_pick"][0]
    labels = list(picker.options)  # the browser keeps a pick by its label
    picker.set_value(1).run()
    for _ in range(2):
        at.button(key="gen_add").click().run()
        assert not at.exception
        picker = [r for r in at.radio if r.key == "gen_figs_pick"][0]
        assert list(picker.options) == labels, "the same labels after every new token"
        assert picker.value == 1
        assert list(charts(at)) == ["gen_figs_1"], "still the new token's attention, alone"

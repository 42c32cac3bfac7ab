"""The explorer page, driven by widget keys with AppTest (tiny model unless noted)."""

import numpy as np
import pytest
import streamlit as st

from apptest_utils import strip_table, array, charts, count_model_calls, messages, new_app, tick_labels, unescape_md
from components.analysis import MAX_TOKENS
from components.ui.data import get_model


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    yield


@pytest.fixture
def app():
    at = new_app()
    at.run()
    assert not at.exception
    # these tests start from the plain token view; the default sentence opens its example's view
    at.segmented_control(key="view").set_value("token")
    at.toggle(key="hide_sink").set_value(False).run()
    assert not at.exception
    return at


def test_the_default_sentence_opens_the_view_that_shows_its_point():
    from components.examples import example_for

    example = example_for("鳥がナク")
    at = new_app()
    at.run()
    assert not at.exception
    assert at.session_state["view"] == example.view and at.session_state["hide_sink"] == example.hide_sink
    assert at.select_slider(key="pos").value == example.pos, "the next-token chart opens after 鳥が"
    assert "「鳥が」" in charts(at)["next_tokens"]["layout"]["title"]["text"]
    assert (at.session_state["layer"], at.session_state["head"]) == (min(example.layer, 1), min(example.head, 1)), \
        "clamped to the tiny model's two layers"
    assert not any(unescape_md(c.value) == example.note("ja") for c in at.caption), \
        "the note's numbers were measured on the bundled model: the untrained one does not show it"


def test_page_renders_without_exception(app):
    assert not app.exception
    assert set(charts(app)) == {"head_heatmap", "next_tokens", "overview"}


def test_morpheme_strip_shows_the_morphemes(app):
    strip = strip_table(app)
    assert list(strip.columns) == ["鳥", "が", "ナク"]
    assert strip.loc["読み"].tolist() == ["トリ", "ガ", "ナク"]
    assert strip.loc["モデルのトークン"].tolist() == ["鳥", "が", "ナ | ク"]


def test_heatmap_axes_are_the_tokens(app):
    fig = charts(app)["head_heatmap"]
    assert tick_labels(fig["layout"]["xaxis"]) == ["<bos>", "鳥", "が", "ナ", "ク"]
    assert tick_labels(fig["layout"]["yaxis"]) == ["<bos>", "鳥", "が", "ナ", "ク"]
    top, bottom = fig["layout"]["yaxis"]["range"]
    assert top > bottom, "queries run top to bottom"


def test_masked_cells_are_drawn_as_masked(app):
    weights, mask, marks = charts(app)["head_heatmap"]["data"]
    z = array(weights["z"])
    m = array(mask["z"])
    future = np.triu(np.ones((5, 5), dtype=bool), 1)
    assert np.all(np.isnan(z[future])), "future cells carry no weight colour"
    assert np.all(m[future] == 1) and np.all(np.isnan(m[~future])), "and are painted by the mask layer"
    assert marks["type"] == "scatter" and len(array(marks["x"])) == future.sum()
    assert "マスク" in marks["name"], "the legend names the mask"
    assert not np.isnan(z[~future]).any()


def test_view_changes_never_run_the_model_again(app):
    calls, remove = count_model_calls(get_model("tiny-random").model)
    try:
        app.segmented_control(key="layer").set_value(1).run()
        app.segmented_control(key="head").set_value(1).run()
        app.slider(key="temperature").set_value(0.5).run()
        app.number_input(key="top_k").set_value(5).run()
        app.toggle(key="hide_sink").set_value(True).run()
        app.segmented_control(key="view").set_value("morpheme").run()
        app.select_slider(key="pos").set_value(2).run()
        assert not app.exception
        assert calls == [], "layer/head/temperature/top-k/view/position re-slice the cached analysis"
        title = charts(app)["head_heatmap"]["layout"]["title"]["text"]
        assert title == "層 1・ヘッド 1"
        fig = charts(app)["next_tokens"]
        bars = fig["data"][0]
        (line,) = fig["layout"]["shapes"]  # the top 5, then the words of the homophone table below a line
        assert line["y0"] == 4.5 and len(array(bars["x"])) > 5
        app.text_input(key="text").input("雨が激しく降る").run()
        assert len(calls) == 1, "a new sentence runs the model once"
    finally:
        remove()


def test_morpheme_view_and_sink_toggle(app):
    app.segmented_control(key="view").set_value("morpheme").run()
    fig = charts(app)["head_heatmap"]
    assert tick_labels(fig["layout"]["xaxis"]) == ["<bos>", "鳥", "が", "ナク"]
    app.toggle(key="hide_sink").set_value(True).run()
    fig = charts(app)["head_heatmap"]
    assert tick_labels(fig["layout"]["xaxis"]) == ["鳥", "が", "ナク"]
    z = array(fig["data"][0]["z"])
    np.testing.assert_allclose(np.nansum(z, axis=1), 1.0, atol=1e-5)
    assert tick_labels(fig["layout"]["yaxis"]) == ["鳥", "が", "ナク"], "the <bos> row is not drawn as masked"


def test_temperature_rescores_the_bars(app):
    before = array(charts(app)["next_tokens"]["data"][0]["x"])
    app.slider(key="temperature").set_value(0.3).run()
    after = array(charts(app)["next_tokens"]["data"][0]["x"])
    assert after[0] > before[0], "a low temperature sharpens the top candidate"


def test_overview_has_every_head_in_one_trace(app):
    fig = charts(app)["overview"]
    heat = [trace for trace in fig["data"] if trace["type"] == "heatmap"]
    assert len(heat) == 1, "one trace holds every head, however many"
    picks = [trace for trace in fig["data"] if trace["type"] == "scatter"][0]
    assert len(picks["customdata"]) == 2 * 2


def test_examples_are_one_click_away(app):
    app.pills(key="example").set_value("雨が激しく降る").run()
    assert app.text_input(key="text").value == "雨が激しく降る"
    assert list(strip_table(app).columns) == ["雨", "が", "激しく", "降る"]


@pytest.mark.parametrize("text", ["", "   ", "\u3000"])
def test_empty_input_keeps_the_last_good_view(app, text):
    app.text_input(key="text").input(text).run()
    assert not app.exception
    assert any("空" in m for m in messages(app))
    assert "head_heatmap" in charts(app), "the last good view stays"
    assert list(strip_table(app).columns) == ["鳥", "が", "ナク"]


def test_too_long_input_names_the_limit(app):
    app.text_input(key="text").input("あ" * (MAX_TOKENS + 10)).run()
    assert not app.exception
    assert any(str(MAX_TOKENS) in m for m in messages(app))
    assert "head_heatmap" in charts(app), "the last good view stays"


@pytest.mark.parametrize("typed", ["/no/such/model/folder", "../../etc", "~/models", "no-such-model"])
def test_unloadable_model_keeps_the_previous_one(app, typed):
    app.selectbox(key="model").set_value("custom").run()
    app.text_input(key="model_path").input(typed).run()
    assert not app.exception
    assert any("ATTENTION_CLASSROOM_MODELS" in m or "hf download" in m for m in messages(app)), messages(app)
    assert "head_heatmap" in charts(app)


def test_english_interface(app):
    app.selectbox(key="lang").set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "Attention Classroom"
    assert "Reading" in strip_table(app).index


def test_downloads_are_offered(app):
    keys = {d.key for d in app.get("download_button")}
    assert {"download_json", "download_csv"} <= keys


@pytest.mark.integration
def test_default_page_on_the_bundled_gemma(gemma):
    at = new_app(model="gemma-3-270m")
    at.run()
    assert not at.exception
    assert list(strip_table(at).columns) == ["鳥", "が", "ナク"]
    fig = charts(at)
    # the default start is the view that shows the point: ナク's row looks at 鳥 the most
    heat = fig["head_heatmap"]
    assert heat["layout"]["title"]["text"] == "層 4・ヘッド 0"
    assert tick_labels(heat["layout"]["xaxis"]) == ["鳥", "が", "ナク"]
    row = array(heat["data"][0]["z"])[-1]
    assert np.nanargmax(row) == 0, "ナク → 鳥 is the largest weight of its row"
    assert "「鳥が」" in fig["next_tokens"]["layout"]["title"]["text"]
    assert tick_labels(fig["next_tokens"]["layout"]["yaxis"])[0].startswith("鳴"), "鳴 leads after 鳥が"
    picks = [trace for trace in fig["overview"]["data"] if trace["type"] == "scatter"][0]
    assert len(picks["customdata"]) == 72
    assert any("Gemma" in c.value for c in at.caption)
    from components.examples import example_for

    note = example_for("鳥がナク").note("ja")
    assert any(unescape_md(c.value) == note for c in at.caption), "the example's note, measured on this model"


def test_a_model_folder_is_chosen_by_name(app, tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_CLASSROOM_MODELS", str(tmp_path))
    tiny.model.save_pretrained(tmp_path / "my-gpt", safe_serialization=True)
    tiny.tokenizer.save_pretrained(tmp_path / "my-gpt")
    app.selectbox(key="model").set_value("custom").run()
    app.text_input(key="model_path").input("my-gpt").run()
    assert not app.exception and not app.error
    assert tick_labels(charts(app)["head_heatmap"]["layout"]["xaxis"]) == ["<bos>", "鳥", "が", "ナ", "ク"]


def test_a_damaged_custom_model_keeps_the_last_good_view(app, tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_CLASSROOM_MODELS", str(tmp_path))
    folder = tmp_path / "broken"
    tiny.model.save_pretrained(folder, safe_serialization=True)
    tiny.tokenizer.save_pretrained(folder)
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)  # damaged weights
    app.selectbox(key="model").set_value("custom").run()
    app.text_input(key="model_path").input("broken").run()
    assert not app.exception
    assert any("壊れて" in m for m in messages(app)), "said in the interface language"
    assert "head_heatmap" in charts(app)


def test_a_long_sentence_lists_one_morpheme_per_row(app):
    app.text_input(key="text").input("私は昨日図書館で本を借りた").run()
    strip = strip_table(app)
    assert list(strip.index) == ["私", "は", "昨日", "図書", "館", "で", "本", "を", "借り", "た"]
    assert list(strip.columns)[0] == "読み"


def test_a_model_too_large_for_memory_keeps_the_previous_one(app, tiny, tmp_path, monkeypatch):
    from components import models

    monkeypatch.setenv("ATTENTION_CLASSROOM_MODELS", str(tmp_path))
    tiny.model.save_pretrained(tmp_path / "huge", safe_serialization=True)
    tiny.tokenizer.save_pretrained(tmp_path / "huge")
    monkeypatch.setattr(models, "_available_bytes", lambda: 1000)
    app.selectbox(key="model").set_value("custom").run()
    app.text_input(key="model_path").input("huge").run()
    assert not app.exception
    assert any("GB" in m and "huge" in m for m in messages(app)), messages(app)
    assert "head_heatmap" in charts(app), "still on the untrained model"
    assert any("huge" in c.value for c in app.caption), "the field lists the models this computer has"


def test_a_pasted_paragraph_can_be_read_from_its_start(app):
    paragraph = "鳥が鳴く。" * 40
    app.text_input(key="text").input(paragraph).run()
    assert any(str(MAX_TOKENS) in m for m in messages(app))
    app.button(key="truncate").click().run()
    assert not app.exception
    text = app.text_input(key="text").value
    assert paragraph.startswith(text) and len(text) < len(paragraph)
    labels = tick_labels(charts(app)["head_heatmap"]["layout"]["xaxis"])
    assert 0 < len(labels) <= MAX_TOKENS, "the analysed start fits the limit"
    from components.analysis import tokenize

    assert len(tokenize(get_model("tiny-random"), text + paragraph[len(text)], max_tokens=10**9)) > MAX_TOKENS, \
        "one more character would not fit: the longest start that does"


def test_the_teachers_guide_opens_from_the_sidebar():
    at = new_app()
    at.run()
    at.button(key="guide").click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "45分" in text and "鳥がナク" in text and "](teachers" not in text


def test_the_guide_exists_in_both_languages_with_the_same_numbers():
    import re

    from conftest import ROOT
    from components.ui.shell import GUIDES

    ja, en = ((ROOT / GUIDES[lang]).read_text(encoding="utf-8") for lang in ("ja", "en"))
    percents = [set(re.findall(r"\d+\.\d+%", text)) for text in (ja, en)]
    assert percents[0] and percents[0] == percents[1], "both guides state the same measured numbers"

"""Odd and hostile input: a result or a documented message, never an exception."""

import re

import pytest
import streamlit as st

from apptest_utils import strip_table, charts, messages, new_app, tick_labels
from components.analysis import AnalysisError, run_analysis
from components.export import analysis_to_json
from components.i18n import t
from odd_inputs import DOCUMENTED, ODD_INPUTS


def test_the_corpus_is_large_enough():
    assert len(ODD_INPUTS) >= 40


def _check_core(model, text):
    try:
        a = run_analysis(model, text, scores=True, unmasked=True)
    except AnalysisError as exc:
        assert exc.code in DOCUMENTED, exc.code
        return None
    assert a.n_tokens >= 1 and a.attentions.shape[-1] == a.n_tokens
    assert all("\ufffd" not in label for label in a.token_labels if label)
    for m in a.morphemes:
        assert a.text[m.start:m.end] == m.surface
    analysis_to_json(a)  # the export never fails either
    return a


@pytest.mark.parametrize("text", ODD_INPUTS, ids=range(len(ODD_INPUTS)))
def test_core_on_odd_input(tiny, text):
    _check_core(tiny, text)


@pytest.mark.integration
def test_core_on_odd_input_with_gemma(gemma):
    for text in ODD_INPUTS:
        _check_core(gemma, text)


DOCUMENTED_TEXT = ("空", "長すぎ", "トークン")


def test_app_on_odd_input():
    st.cache_data.clear()
    at = new_app()
    at.run()
    # a lone surrogate cannot travel in Streamlit's protobuf messages, so it never reaches the app
    for text in [x for x in ODD_INPUTS if not any("\ud800" <= c <= "\udfff" for c in x)]:
        at.text_input(key="text").input(text).run()
        assert not at.exception, repr(text)
        said = messages(at)
        shown = "head_heatmap" in charts(at)
        assert said == [] or any(word in m for m in said for word in DOCUMENTED_TEXT) or \
            any("直前に解析できた" in m for m in said), (repr(text), said)
        assert shown, "a view is always on screen (the result or the last good one)"


def test_markup_is_rendered_literally():
    st.cache_data.clear()
    at = new_app()
    at.run()
    text = "<script>alert(1)</script>**太字**$x^2$"
    at.text_input(key="text").input(text).run()
    assert not at.exception
    strip = strip_table(at)  # a long sentence: one morpheme per row
    surfaces = "".join(strip.index)
    assert "<" in surfaces and "**" in surfaces, "the strip shows the raw text"
    raw = at.table[0].value  # st.table reads Markdown: every cell reaches it escaped
    assert "**" not in "".join(raw.index) and "\\*\\*" in "".join(raw.index)
    assert "<script>" in "".join(tick_labels(charts(at)["head_heatmap"]["layout"]["xaxis"]))
    raw_x = charts(at)["head_heatmap"]["layout"]["xaxis"]["ticktext"]
    assert not any("<" in label for label in raw_x), "Plotly gets escaped labels"
    for md in list(at.markdown) + list(at.caption) + list(at.warning) + list(at.info) + list(at.error):
        assert "<script>" not in md.value and "**太字**" not in md.value, md.value
    tokens_line = [e.value for e in at.text if e.value.startswith(t("tokens_line", "ja", tokens=""))][0]
    assert "<" in tokens_line and "*" in tokens_line, "plain text, not Markdown"


def test_figure_pickers_in_projector_view_show_typed_markup_literally():
    """In projector view a picker names each figure, by default after its
    title, which may hold a student's words; a radio label reads Markdown."""
    from streamlit.testing.v1 import AppTest

    def page():
        import plotly.graph_objects as go
        import streamlit as st

        from components.ui import charts

        st.session_state["projector"] = True
        typed = "**太字**$x^2$:red[赤]<b>b</b>"
        charts.render_figures([go.Figure(layout={"title": {"text": typed}}), go.Figure()], "typed")

    at = AppTest.from_function(page)
    at.run()
    assert not at.exception
    labels = list(at.radio[0].options)
    assert "太字" in labels[0]
    for label in labels:
        plain = re.sub(r"\\(.)", "", label)  # what is left once escaped characters are removed
        assert "**" not in plain and "$" not in plain and ":red[" not in plain and "<b>" not in plain, label

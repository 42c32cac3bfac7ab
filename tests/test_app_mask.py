"""The masked-vs-unmasked page, driven by widget keys with AppTest."""

import numpy as np
import pytest
import streamlit as st

from apptest_utils import array, charts, count_model_calls, messages, new_app, tick_labels
from components.ui.data import get_model

PAGE = "components/ui/mask.py"


@pytest.fixture
def app():
    st.cache_data.clear()
    at = new_app()
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def test_mask_page_shows_the_three_stages_and_the_comparison(app):
    figs = charts(app)
    assert {f"mask_stages_{i}" for i in range(3)} <= set(figs)
    assert {f"mask_compare_{i}" for i in range(3)} <= set(figs)
    raw, masked, weights = (figs[f"mask_stages_{i}"] for i in range(3))
    assert tick_labels(raw["layout"]["xaxis"]) == ["<bos>", "鳥", "が", "ナ", "ク"]
    future = np.triu(np.ones((5, 5), dtype=bool), 1)
    assert not np.isnan(array(raw["data"][0]["z"])).any(), "raw scores exist for every cell"
    assert np.isnan(array(masked["data"][0]["z"])[future]).all(), "the mask hides the future"
    assert np.all(array(masked["data"][1]["z"])[future] == 1)
    w = array(weights["data"][0]["z"])
    np.testing.assert_allclose(np.nansum(w, axis=1), 1.0, atol=1e-5)
    unmasked = array(figs["mask_compare_1"]["data"][0]["z"])
    assert np.all(unmasked[future] > 0), "unmasked attention reaches the future"


def test_shift_table_and_default_position(app):
    table = app.dataframe[0].value
    assert len(table) == 5
    assert table.iloc[2, 1] == "鳥が"
    assert app.select_slider(key="mask_pos").value == 2, "starts where 鳥が predicts the last word"


def test_layer_head_are_shared_with_the_explorer_and_cost_no_model_run(app):
    calls, remove = count_model_calls(get_model("tiny-random").model)
    try:
        app.segmented_control(key="layer").set_value(1).run()
        app.segmented_control(key="head").set_value(1).run()
        assert calls == []
        app.switch_page("components/ui/explorer.py").run()
        assert not app.exception
        assert app.session_state["layer"] == 1 and app.session_state["head"] == 1
        assert "層 1・ヘッド 1" in charts(app)["head_heatmap"]["layout"]["title"]["text"]
    finally:
        remove()


def test_english_mask_page(app):
    app.selectbox(key="lang").set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "The causal mask: on and off"


@pytest.mark.integration
def test_mask_page_on_gemma_with_the_untrained_comparison(gemma):
    st.cache_data.clear()
    at = new_app(model="gemma-3-270m")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.iloc[2, 2].startswith("鳴") and table.iloc[2, 3].startswith("ナ")
    at.toggle(key="compare_untrained").set_value(True).run()
    assert not at.exception
    # the same views for the untrained model: stages, comparison, what moved, the bars, the table
    assert {"tiny_stages_0", "tiny_compare_2", "tiny_shift_0", "tiny_shift_1", "tiny_shift_2"} <= set(charts(at))
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2, "the trained model's table of positions, and the untrained one's"
    tiny_table = tables[1]  # the untrained model's box comes after the trained model's views
    assert len(tiny_table) == 5, "one row per position of 鳥がナク"
    assert float(tiny_table.iloc[:, -1].max()) < 0.1, "lifting the mask barely moves an untrained model"


def test_the_explanation_says_what_the_table_shows(app):
    """The page's explanation is the one peek_message chooses for the row on screen."""
    from components.i18n import t
    from components.views import peek_message, prediction_shifts
    from components.ui.data import get_analysis

    pos = app.session_state["mask_pos"]
    analysis = get_analysis("tiny-random", "鳥がナク", mask_views=True)
    shift = prediction_shifts(analysis)[pos]
    table = app.dataframe[0].value  # 鳥がナク on the untrained model
    assert str(table.iloc[pos, 2]).startswith(shift.masked_top.text)
    assert str(table.iloc[pos, 3]).startswith(shift.unmasked_top.text)
    key, params = peek_message(analysis.text, shift)
    assert t(key, "ja", **params) in messages(app)

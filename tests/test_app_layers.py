"""The layer-by-layer page: the logit lens, tracked words and knockouts, in AppTest."""

import numpy as np
import pytest

from apptest_utils import array, charts, count_model_calls, open_link, tick_labels
from components.lens import run_lens
from components.ui.data import get_model


def open_layers(**params):
    """A new session on the layer-by-layer page of the tiny model."""
    return open_link({"page": "layers", "model": "tiny-random", **params})


@pytest.fixture
def app():
    return open_layers(text="雨が激しく降る")


def test_the_lens_grid_shows_every_layer_and_position(app, tiny):
    fig = charts(app)["lens_grid"]
    z = array(fig["data"][0]["z"])
    lens = run_lens(tiny, "雨が激しく降る")
    assert z.shape == (tiny.n_layers + 1, len(lens.tokens)), "the input row, one row per layer; one column per token"
    labels = tick_labels(fig["layout"]["yaxis"])
    assert labels[0].startswith("入力") and "出力" in labels[-1]
    np.testing.assert_allclose(z, lens.top_probs[:, :, 0], atol=1e-6)
    assert [t for t in fig["data"][0]["text"][-1]] == [lens.labels[int(i)] for i in lens.top_ids[-1, :, 0]]


def test_the_tracked_words_follow_what_is_typed(app):
    app.text_input(key="track").input("雨, 降").run()
    assert not app.exception
    names = [trace["name"] for trace in charts(app)["lens_track"]["data"]]
    assert names == ["雨", "降"]


def test_the_position_is_shared_with_the_explorer_and_costs_no_run_once_cached(app):
    app.select_slider(key="pos").set_value(2).run()
    calls, remove = count_model_calls(get_model("tiny-random").model)
    try:
        app.switch_page("components/ui/explorer.py").run()
        assert app.select_slider(key="pos").value == 2
        app.switch_page("components/ui/layers.py").run()
        assert calls == [], "the lens and the analysis come from the caches"
        assert "2: が" in tick_labels(charts(app)["lens_grid"]["layout"]["xaxis"])
        assert charts(app)["lens_grid"]["layout"]["shapes"][0]["x0"] == 1.5, "the chosen position is framed"
    finally:
        remove()


def test_knockouts_run_on_a_click_and_name_the_strongest_head(app, tiny):
    assert "knockout_map" not in charts(app), "seconds of work wait for the button"
    app.text_input(key="ko_target").input("降").run()
    app.button(key="ko_run").click().run()
    assert not app.exception
    fig = charts(app)["knockout_map"]
    z = array(fig["data"][0]["z"])
    assert z.shape == (tiny.n_layers, tiny.n_heads + 3), "heads, a gap, the attention block and the MLP"
    assert np.isnan(z[:, tiny.n_heads]).all()
    from components.knockout import run_knockouts

    ko = run_knockouts(tiny, "雨が激しく降る", "降", None, app.session_state["pos"])
    np.testing.assert_allclose(z[:, : tiny.n_heads], ko.heads, atol=1e-5)
    (layer, head, _), *_ = ko.strongest(1)
    assert any(f"層 {layer}・ヘッド {head}" in c.value for c in [*app.caption, *app.markdown])


def test_the_page_in_projector_view():
    at = open_layers(projector="1")
    figs = charts(at)
    assert len(figs) == 1 and all(f["layout"]["font"]["size"] >= 20 for f in figs.values())
    at.segmented_control(key="layers_figure").set_value("track").run()
    assert not at.exception
    (fig,) = charts(at).values()
    assert fig["layout"]["yaxis"]["type"] == "log" and fig["layout"]["yaxis"]["title"]["text"] == "順位"


def test_the_page_in_english():
    at = open_layers(lang="en")
    assert at.title[0].value == "Layer by layer: where the prediction forms"
    assert tick_labels(charts(at)["lens_grid"]["layout"]["yaxis"])[0] == "input (embedding)"

"""Shareable links: every field round-trips; a link opens the view it names."""

import pytest
import streamlit as st

from apptest_utils import charts, new_app, open_link, tick_labels, unescape_md
from components import links
from components.ui.shell import DEFAULTS

EVERY_FIELD = {
    "text": "鳥がナク", "model": "tiny-random", "page": "mask", "layer": 3, "head": 1, "pos": 2,
    "view": "morpheme", "temperature": 0.7, "top_k": 5, "lesson": "01-self-attention", "lang": "en",
    "projector": True, "icl_task": "antonyms", "hide_sink": True, "figure": "next", "mask_figure": "shift",
    "seed": 42, "gen_top_k": 20, "top_p": 0.9, "greedy": False, "gen_steps": 5,
    "layers_figure": "knockout", "track": "␣drink, 飲", "ko_target": "鳴", "ko_versus": "泣",
    "rlhf_task": "film-review", "rlhf_run": "0123456789abcdef0123", "rlhf_step": 2,
}


def test_every_field_round_trips():
    assert set(EVERY_FIELD) == set(links.FIELDS)
    params = links.state_to_params(EVERY_FIELD)
    assert params == {
        "text": "鳥がナク", "model": "tiny-random", "page": "mask", "layer": "3", "head": "1", "pos": "2",
        "view": "morpheme", "temperature": "0.7", "top_k": "5", "lesson": "01-self-attention", "lang": "en",
        "projector": "1", "icl_task": "antonyms", "hide_sink": "1", "figure": "next", "mask_figure": "shift",
        "seed": "42", "gen_top_k": "20", "top_p": "0.9", "greedy": "0", "gen_steps": "5",
        "layers_figure": "knockout", "track": "␣drink, 飲", "ko_target": "鳴", "ko_versus": "泣",
        "rlhf_task": "film-review", "rlhf_run": "0123456789abcdef0123", "rlhf_step": "2",
    }
    assert links.params_to_state(params) == EVERY_FIELD


@pytest.mark.parametrize(
    "params",
    [
        {"layer": "-1"}, {"layer": "x"}, {"temperature": "nan"}, {"temperature": "9"}, {"page": "admin"},
        {"view": "<script>"}, {"lang": "fr"}, {"model": "/etc/passwd"}, {"model": "../secret"},
        {"lesson": "../../x"}, {"text": ""}, {"text": "あ" * 3000}, {"projector": "maybe"},
    ],
)
def test_malformed_values_are_dropped(params):
    assert links.params_to_state(params) == {}


def test_a_folder_path_never_goes_into_a_link():
    assert "model" not in links.state_to_params({"model": "/home/teacher/models/mine"})
    assert links.state_to_params({"model": "gpt2"})["model"] == "gpt2"


def test_temperature_snaps_to_the_slider_grid():
    assert links.params_to_state({"temperature": "0.73"})["temperature"] == 0.75
    assert links.params_to_state({"layer": ["4", "5"]})["layer"] == 4


def test_defaults_are_valid_links():
    state = {k: v for k, v in DEFAULTS.items() if k in links.FIELDS}
    params = links.state_to_params(state)
    unset = set(state) - set(params)
    assert unset == {"rlhf_run", "rlhf_step"}  # no finished run yet, no step chosen: a link leaves them out
    assert links.params_to_state(params) == {k: v for k, v in state.items() if k not in unset}


def test_opening_a_shared_link_shows_the_view_it_names():
    at = open_link({"text": "雨が激しく降る", "model": "tiny-random", "layer": "1", "head": "1",
                            "view": "morpheme", "pos": "2", "temperature": "0.5", "lang": "en"})
    assert at.text_input(key="text").value == "雨が激しく降る"
    fig = charts(at)["head_heatmap"]
    assert fig["layout"]["title"]["text"] == "Layer 1, head 1"
    assert tick_labels(fig["layout"]["xaxis"]) == ["<bos>", "雨", "が", "激しく", "降る"]
    assert at.select_slider(key="pos").value == 2, "the link's position is kept"
    assert at.slider(key="temperature").value == 0.5
    assert "After 「雨が」" in charts(at)["next_tokens"]["layout"]["title"]["text"]
    assert at.title[0].value == "Attention Classroom"
    # and the app writes the view back into the address bar
    assert at.query_params["layer"] == "1" and at.query_params["view"] == "morpheme"
    assert at.query_params["page"] == "explorer"


def test_a_link_to_the_lesson_page_opens_that_lesson():
    at = open_link({"page": "lessons", "lesson": "02-causal-mask", "model": "tiny-random"})
    assert at.session_state["lesson"] == "02-causal-mask"
    assert at.session_state["text"] == "雨が激しく降る"
    assert at.query_params["lesson"] == "02-causal-mask" and at.query_params["page"] == "lessons"


def test_a_lesson_link_restores_its_own_settings():
    at = open_link({
        "page": "lessons", "lesson": "04-temperature", "temperature": "0.3", "top_k": "5",
        "model": "tiny-random",
    })
    assert at.session_state["lesson"] == "04-temperature"
    assert at.session_state["temperature"] == 0.3, "the link's temperature, not the lesson's default"
    assert at.query_params["temperature"] == "0.3"
    assert "0.3" in charts(at)["lesson_fig_0"]["layout"]["title"]["text"]
    at.button(key="lesson_prev").click().run()  # stepping on opens the next lesson's own view
    assert at.session_state["lesson"] == "03-masked-vs-unmasked"
    assert at.session_state["temperature"] == 1.0


def test_projector_link_collapses_to_one_large_figure():
    at = open_link({"projector": "1", "model": "tiny-random"})
    figs = charts(at)
    assert list(figs) == ["head_heatmap"], "one figure at a time"
    assert figs["head_heatmap"]["layout"]["font"]["size"] >= 20
    at.segmented_control(key="figure").set_value("strip").run()
    assert list(charts(at)) == ["morpheme_strip_large"]


def test_a_link_names_the_in_context_learning_task():
    at = open_link({"page": "icl", "icl_task": "capital", "model": "tiny-random"})
    assert at.code[0].value.endswith("韓国→")
    assert at.query_params["icl_task"] == "capital"


def test_a_mask_page_link_keeps_its_position():
    at = open_link({"page": "mask", "pos": "1", "layer": "1", "model": "tiny-random"})
    assert at.select_slider(key="mask_pos").value == 1
    assert at.query_params["pos"] == "1" and at.query_params["page"] == "mask"
    at.select_slider(key="mask_pos").set_value(3).run()
    assert at.query_params["pos"] == "3", "the address bar follows the page's own position"


def test_a_generation_link_replays_the_same_text():
    st.cache_data.clear()
    params = {"page": "generate", "model": "tiny-random", "text": "鳥が", "seed": "9", "gen_steps": "4",
              "top_p": "0.9", "gen_top_k": "30"}
    first = new_app()
    first.query_params.update(params)
    first.run()
    assert not first.exception and first.session_state["gen_steps"] == 4
    text = [m.value for m in first.markdown if ":orange-background[" in m.value]
    assert text, "the model's part of the text is shown"
    second = new_app()
    second.query_params.update(params)
    second.run()
    assert [m.value for m in second.markdown if ":orange-background[" in m.value] == text, \
        "a link replays exactly the same demonstration"
    assert second.query_params["seed"] == "9" and second.query_params["gen_steps"] == "4"


def test_page_only_parameters_stay_on_their_page():
    at = open_link({"seed": "3", "lesson": "02-causal-mask", "model": "tiny-random"})
    assert "seed" not in at.query_params and "lesson" not in at.query_params


def test_a_shared_link_reaches_the_server_from_the_network():
    params = links.state_to_params({"text": "鳥がナク", "layer": 4})
    assert links.share_link("http://localhost:8501", params, "192.168.1.20") == \
        "http://192.168.1.20:8501/?text=%E9%B3%A5%E3%81%8C%E3%83%8A%E3%82%AF&layer=4"
    assert links.share_link("http://school.example:8501/mask", params, "192.168.1.20").startswith(
        "http://school.example:8501/mask?"), "a real host name is kept"
    assert links.share_link("http://127.0.0.1:9000", {}, None) == "http://127.0.0.1:9000/"


def test_the_qr_code_holds_the_link():
    import io

    import zxingcpp
    from PIL import Image

    link = "http://192.168.1.20:8501/?text=%E9%B3%A5%E3%81%8C%E3%83%8A%E3%82%AF&layer=4&head=0&pos=2"
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(links.qr_png(link))))
    assert found.text == link


def test_the_share_button_shows_the_current_view():
    at = open_link({"text": "雨が激しく降る", "model": "tiny-random", "layer": "1"})
    at.button(key="share").click().run()
    assert not at.exception
    shown = [unescape_md(c.value) for c in at.caption if "layer" in c.value and "http" in c.value]
    assert shown and "layer=1" in shown[0] and "text=%E9%9B%A8" in shown[0]

"""Helpers for driving the app with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import base64
import re
import html
import json

import numpy as np

from streamlit.testing.v1 import AppTest

from conftest import ROOT

APP = str(ROOT / "viz_app.py")


def new_app(model: str = "tiny-random", **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["model"] = model
    for key, value in state.items():
        at.session_state[key] = value
    return at


def open_link(params: dict) -> AppTest:
    """A new session opened with a link's query parameters, run once, with
    the caches cleared (as a fresh server would have them)."""
    import streamlit as st

    st.cache_data.clear()
    at = new_app()
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly figures on the page, by widget key (head_heatmap, overview, ...)."""
    return {node.proto.id.rsplit("-", 1)[-1]: json.loads(node.proto.spec) for node in at.get("plotly_chart")}


def array(value) -> np.ndarray:
    """A Plotly JSON array, plain list or typed ({dtype, bdata, shape})."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            data = data.reshape([int(n) for n in str(shape).split(",")])
        return data.astype(float)
    return np.array(value, dtype=float)


def tick_labels(axis: dict) -> list[str]:
    return [html.unescape(t) for t in axis.get("ticktext", [])]


def unescape_md(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", str(text))


def strip_table(at: AppTest):
    """The morpheme strip (an st.table of Markdown-escaped cells) as a reader sees it."""
    frame = at.table[0].value
    out = frame.map(unescape_md)
    out.columns = [unescape_md(c) for c in frame.columns]
    out.index = [unescape_md(i) for i in frame.index]
    return out


def messages(at: AppTest) -> list[str]:
    """Error, warning and info texts as a reader sees them (Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in list(at.error) + list(at.warning) + list(at.info)]


def count_model_calls(model):
    """Attach a counter to a loaded model's forward pass; returns (calls, remove)."""
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))
    return calls, handle.remove

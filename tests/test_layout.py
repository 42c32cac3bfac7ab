"""The codebase's shape: pure components, data-driven examples."""

import ast
import tomllib

from conftest import ROOT


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_components_outside_ui_never_import_streamlit():
    pure = [p for p in (ROOT / "components").rglob("*.py") if "ui" not in p.relative_to(ROOT / "components").parts]
    assert len(pure) >= 8
    offenders = [p.name for p in pure if any(m.split(".")[0] == "streamlit" for m in _imports(p))]
    assert offenders == []


def test_requirements_are_pinned():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines and all("==" in line for line in lines)
    assert "torch==2.13.0" in lines


def test_example_sentences_are_data():
    data = tomllib.loads((ROOT / "examples" / "sentences.toml").read_text(encoding="utf-8"))
    texts = {s["text"] for s in data["sentence"]}
    assert {"鳥がナク", "鳥が鳴く", "赤ちゃんがナク", "雨が激しく降る"} <= texts
    assert all(s["note_ja"] and s["note_en"] for s in data["sentence"])

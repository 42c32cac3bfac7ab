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


def _module_name(path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """components.* module -> the components.* modules it imports, anywhere in
    the file (an import inside a function counts: that is how loops hide)."""
    files = {_module_name(p): p for p in (ROOT / "components").rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # `from components.ui import shell` imports components.ui.shell
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in files else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def test_there_is_no_import_loop():
    graph = _import_graph()
    assert "components.ui.shell" in graph and "components.analysis" in graph
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import loop: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for target in sorted(graph[node]):
            visit(target)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_no_module_imports_a_page():
    from components.pages import PAGES

    pages = {_module_name(ROOT / path) for path in PAGES.values()}
    assert len(pages) == len(PAGES) >= 6
    graph = _import_graph()
    offenders = {name: graph[name] & pages for name in graph if graph[name] & pages}
    assert offenders == {}, "pages are run by st.navigation, never imported"


def test_session_state_holds_widgets_and_documented_notes_only():
    """Every underscored session key a page uses is explained in shell.SESSION_NOTES."""
    import re

    from components.ui.shell import SESSION_NOTES

    used = set()
    for path in [*(ROOT / "components" / "ui").glob("*.py"), ROOT / "viz_app.py"]:
        used |= set(re.findall(r"""session_state(?:\[|\.get\(|\.pop\(|\.setdefault\()\s*["'](_\w+)["']""",
                               path.read_text(encoding="utf-8")))
    assert used, "the pattern finds the keys"
    assert used <= set(SESSION_NOTES), sorted(used - set(SESSION_NOTES))

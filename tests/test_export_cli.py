"""JSON/CSV exports and the command line."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from components.analysis import run_analysis
from components.cli import main
from components.export import analysis_to_dict, analysis_to_json, head_to_csv
from components.sampling import top_tokens
from components.views import head_view

from conftest import ROOT


@pytest.fixture(scope="module")
def analysis(tiny):
    return run_analysis(tiny, "雨が激しく降る", scores=True, unmasked=True)


def test_json_round_trip(analysis):
    data = json.loads(analysis_to_json(analysis, top_k=7))
    assert data["model"] == "tiny-random" and data["text"] == "雨が激しく降る"
    att = np.asarray(data["attentions"], dtype=np.float32)
    assert att.shape == analysis.attentions.shape
    np.testing.assert_array_equal(att, analysis.attentions)
    assert [t["index"] for t in data["tokens"]] == list(range(analysis.n_tokens))
    assert set(data["tokens"][0]) >= {"index", "id", "text", "start", "end", "special"}
    assert data["tokens"][0]["special"] is True
    assert [m["surface"] for m in data["morphemes"]] == ["雨", "が", "激しく", "降る"]
    assert set(data["morphemes"][0]) >= {"surface", "reading", "lemma", "pos", "start", "end", "tokens"}
    assert len(data["next_tokens"]) == analysis.n_tokens
    for entry in data["next_tokens"]:
        expect = top_tokens(analysis.next_logits, entry["position"], analysis.labels, 1.0, 7)
        assert [(t["id"], t["prob"]) for t in entry["top"]] == [(t.id, t.prob) for t in expect]
    for key in ("scores", "unmasked_attentions"):
        assert np.asarray(data[key]).shape == analysis.attentions.shape
    assert len(data["unmasked_next_tokens"]) == analysis.n_tokens


def test_optional_fields_are_absent_unless_asked(tiny):
    data = analysis_to_dict(run_analysis(tiny, "鳥"))
    assert "scores" not in data and "unmasked_attentions" not in data


def test_head_csv(analysis):
    rows = list(csv.DictReader(io.StringIO(head_to_csv(head_view(analysis, 1, 0)))))
    n = analysis.n_tokens
    assert len(rows) == n * n
    cell = rows[2 * n + 1]  # query 2, key 1
    assert (cell["query_text"], cell["key_text"]) == ("が", "雨")
    assert float(cell["weight"]) == pytest.approx(float(analysis.attentions[1, 0, 2, 1]), abs=1e-7)
    assert rows[1]["masked"] == "1" and rows[n]["masked"] == "0"
    morph = list(csv.DictReader(io.StringIO(head_to_csv(head_view(analysis, 0, 1, view="morpheme")))))
    assert len(morph) == len(analysis.units) ** 2
    assert morph[0]["view"] == "morpheme"
    sinkless = list(csv.DictReader(io.StringIO(head_to_csv(head_view(analysis, 0, 1, hide_sink=True)))))
    assert len(sinkless) == (n - 1) * (n - 1), "the first token's row and column are left out"
    assert (sinkless[0]["query"], sinkless[0]["key"]) == ("1", "1"), "indices still refer to the full token list"
    assert all(row["weight"] != "" for row in sinkless), "no row is left with nothing to show"


def test_cli_analyze_json_to_stdout(capsys):
    assert main(["analyze", "鳥がナク", "--model", "tiny-random", "--json", "-", "--top-k", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["text"] for t in data["tokens"]] == ["<bos>", "鳥", "が", "ナ", "ク"]
    assert all(len(p["top"]) == 3 for p in data["next_tokens"])


def test_cli_analyze_writes_a_file(tmp_path):
    out = tmp_path / "a.json"
    assert main(["analyze", "鳥がナク", "--model", "tiny-random", "--json", str(out), "--unmasked", "--scores"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {"unmasked_attentions", "unmasked_next_tokens", "scores"} <= set(data)


def test_cli_summary_is_readable(capsys):
    assert main(["analyze", "鳥がナク", "--model", "tiny-random"]) == 0
    out = capsys.readouterr().out
    assert "ナク" in out and "tokens: ナ, ク" in out


def test_cli_score_prints_one_line_per_sentence(capsys, tiny):
    assert main(["score", "鳥が鳴く。", "鳥が泣く。", "--model", "tiny-random"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["鳥が鳴く。", "鳥が泣く。"]
    assert all(line["logprob"] < 0 for line in lines)
    assert lines[0]["tokens"][0] == "<bos>"


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["analyze", "   ", "--model", "tiny-random"], 2, "empty"),
        (["analyze", "鳥", "--model", "tiny-random", "--top-k", "0"], 2, "top-k"),
        (["analyze", "鳥", "--model", "tiny-random", "--top-k", "300"], 2, "top-k"),
        (["analyze", "鳥", "--model", "tiny-random", "--temperature", "-1"], 2, "temperature"),
        (["analyze", "あ" * 100, "--model", "tiny-random"], 2, "limit is 64"),
        (["analyze", "鳥", "--model", "/no/such/folder"], 1, "does not exist"),
        (["score", "", "--model", "tiny-random"], 2, "empty"),
    ],
)
def test_cli_errors_go_to_stderr_with_an_exit_code(capsys, argv, code, message):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_cli_as_a_module_in_a_subprocess():
    bad = subprocess.run(
        [sys.executable, "-m", "components", "analyze"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "components", "analyze", "鳥がナク", "--model", "tiny-random", "--json", "-"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["model"] == "tiny-random"
    assert "Traceback" not in ok.stderr


def test_cli_top_k_beyond_fifty_is_still_readable(capsys):
    assert main(["analyze", "鳥が", "--model", "tiny-random", "--json", "-", "--top-k", "80"]) == 0
    data = json.loads(capsys.readouterr().out)
    texts = [t["text"] for p in data["next_tokens"] for t in p["top"]]
    assert len(data["next_tokens"][0]["top"]) == 80
    assert not any(t.startswith("#") for t in texts)

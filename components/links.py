"""Shareable links: the view lives in the URL query string.

Parameters are named after the widget keys, e.g.
``?text=鳥がナク&model=gemma-3-270m&page=explorer&layer=3&head=1&pos=2&view=token&temperature=0.7&lesson=01-self-attention&lang=en``.

Reading is defensive: every value is checked and anything malformed is
dropped, so a mistyped link opens the default view instead of failing. A
link never carries a folder path (only the built-in models or a hub-style
id), so a link cannot make the app read files.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import socket
import urllib.parse
from typing import Any, Callable, Mapping

from components.i18n import LANGS
from components.models import BUNDLED_ID, TINY_ID, is_model_name
from components.pages import FIGURE_CHOICES, PAGES
from components.views import VIEWS

MAX_TEXT = 2000
_LESSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        n = int(value)
        if not lo <= n <= hi:
            raise ValueError(value)
        return n

    return parse


def _float(lo: float, hi: float, step: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        x = float(value)
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(value)
        return round(round(x / step) * step, 2)  # onto the slider's grid

    return parse


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(value)
        return value

    return parse


def _bool(value: str) -> bool:
    if value not in ("0", "1", "true", "false"):
        raise ValueError(value)
    return value in ("1", "true")


def _text(value: str) -> str:
    if not value or len(value) > MAX_TEXT:
        raise ValueError("text")
    return value


def _one_line(limit: int) -> Callable[[str], str]:
    """Text typed into a field, kept if it is one line of at most ``limit`` characters."""
    def parse(value: str) -> str:
        if len(value) > limit or "\n" in value:
            raise ValueError(value)
        return value

    return parse


_word = _one_line(20)  # a word typed into a field (a target, a rival)
_word_list = _one_line(100)  # a few words separated by commas (the words a chart follows)


def _run_key(value: str) -> str:
    """The key of a finished RLHF run: 20 hex digits, never a path."""
    if not re.fullmatch(r"[0-9a-f]{20}", value):
        raise ValueError(value)
    return value


def _model(value: str) -> str:
    if value in (BUNDLED_ID, TINY_ID) or is_model_name(value):
        return value
    raise ValueError(value)


def _lesson(value: str) -> str:
    if not _LESSON.match(value):
        raise ValueError(value)
    return value


#: URL parameter -> parser. The same names as the widget keys.
FIELDS: dict[str, Callable[[str], Any]] = {
    "text": _text,
    "model": _model,
    "page": _choice(tuple(PAGES)),
    "layer": _int(0, 255),
    "head": _int(0, 255),
    "pos": _int(0, 4095),
    "view": _choice(VIEWS),
    "temperature": _float(0.1, 2.0, 0.05),
    "top_k": _int(1, 50),
    "lesson": _lesson,
    "lang": _choice(LANGS),
    "projector": _bool,
    "icl_task": _lesson,  # an in-context learning task id (same shape as a lesson id)
    "hide_sink": _bool,
    "figure": _choice(FIGURE_CHOICES["figure"]),  # projector view: which figure
    "mask_figure": _choice(FIGURE_CHOICES["mask_figure"]),
    "seed": _int(0, 2**31 - 1),  # step-by-step generation, so a demonstration replays exactly
    "gen_top_k": _int(0, 200),
    "top_p": _float(0.05, 1.0, 0.05),
    "greedy": _bool,
    "gen_steps": _int(0, 64),
    "layers_figure": _choice(FIGURE_CHOICES["layers_figure"]),
    "track": _word_list,  # layer by layer: the words followed after every layer
    "ko_target": _word,  # ... and the word (and its rival) whose heads are knocked out
    "ko_versus": _word,
    "rlhf_task": _lesson,  # an RLHF task id (same shape as a lesson id)
    "rlhf_run": _run_key,  # a finished RLHF run: a link opens it
    "rlhf_step": _int(1, 3),  # projector view: which of the RLHF page's three steps
}

#: parameters that only mean something on one page
PAGE_ONLY = {
    "lesson": "lessons", "icl_task": "icl", "mask_figure": "mask", "figure": "explorer", "layers_figure": "layers",
    "track": "layers", "ko_target": "layers", "ko_versus": "layers", "rlhf_task": "rlhf", "rlhf_run": "rlhf",
    "rlhf_step": "rlhf",
    "seed": "generate", "gen_top_k": "generate", "top_p": "generate", "greedy": "generate", "gen_steps": "generate",
}


def params_to_state(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated state from URL parameters (lists take their first value);
    unknown or malformed parameters are left out."""
    state: dict[str, Any] = {}
    for name, parse in FIELDS.items():
        raw = params.get(name)
        if isinstance(raw, (list, tuple)):
            raw = raw[0] if raw else None
        if raw is None:
            continue
        try:
            state[name] = parse(str(raw))
        except (ValueError, TypeError, OverflowError):
            continue
    return state


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def state_to_params(state: Mapping[str, Any]) -> dict[str, str]:
    """URL parameters for the fields present in ``state`` (in FIELDS order).
    Values a link could not carry back (a folder path as model) are left out."""
    out: dict[str, str] = {}
    for name, parse in FIELDS.items():
        if name not in state or state[name] is None:
            continue
        text = _format(state[name])
        try:
            parse(text)
        except (ValueError, TypeError):
            continue
        out[name] = text
    return out


# ------------------------------------------------------------- sharing


def share_link(base_url: str, params: Mapping[str, str], host: str | None = None) -> str:
    """The address of a view: ``base_url`` (scheme, host, port, path) with the
    view's parameters. ``host`` replaces a loopback host (localhost,
    127.0.0.1), which a student's device could not reach."""
    parts = urllib.parse.urlsplit(base_url)
    netloc = parts.netloc
    if host and parts.hostname in ("localhost", "127.0.0.1", "::1"):
        netloc = host + (f":{parts.port}" if parts.port else "")
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def lan_address() -> str | None:
    """This computer's address on the local network, or None. Connecting a
    UDP socket only picks the outgoing interface; no packet is sent."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        address = s.getsockname()[0]
        return None if address.startswith("127.") else address
    return None


def qr_png(link: str, scale: int = 8) -> bytes:
    """A QR code of ``link`` as PNG bytes (segno, error correction M)."""
    import segno

    buffer = io.BytesIO()
    segno.make_qr(link, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()

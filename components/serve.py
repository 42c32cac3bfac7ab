"""A lecture hall on one machine: N ``streamlit run viz_app.py`` processes
behind HAProxy.

    python -m components serve --processes 4 --port 8501 [--address 0.0.0.0]

Streamlit keeps each session inside the process that serves it, so replicas
need a proxy that keeps every browser on one process (a cookie the proxy
inserts), passes WebSockets through, and moves a browser to another process
when its own stops answering health checks. The page then reconnects and
rebuilds its view from the address bar, which carries it.

Each process holds its own copy of the model (~2 GB) and gets its share of
the cores as torch threads. The app processes listen on loopback only; the
proxy is the one thing the class reaches. HAProxy's statistics page is bound
to loopback too.

The pure helpers (:func:`render_config`, :func:`thread_split`,
:func:`choose_app_ports`, :func:`app_env`, :func:`app_command`) start
nothing; :func:`run_hall` starts the processes and the proxy and stops them
all on Ctrl+C (SIGINT) or SIGTERM. ``deploy/`` holds the same configuration
for a school server under systemd.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, TextIO

ROOT = Path(__file__).resolve().parents[1]

#: the cookie HAProxy inserts to keep a browser on its process; its value is the process's name
STICKY_COOKIE = "classroom_process"
HEALTH_PATH = "/_stcore/health"
#: an open page is one WebSocket; it may sit idle through a whole school day
TUNNEL_TIMEOUT = "8h"
DEFAULT_STATS_PORT = 8404
#: memory each app process needs: its own float32 model plus Streamlit (~2 GB RSS measured)
PROCESS_GB = 2.2
#: the school-server flavour: where the app processes listen (see deploy/)
SYSTEM_FIRST_APP_PORT = 8511


class ServeError(RuntimeError):
    """A hall that cannot start; the message says how to fix it."""


@dataclass(frozen=True)
class Backend:
    """One app process as the proxy sees it."""

    name: str  # also the value of the sticky cookie
    host: str
    port: int


# ------------------------------------------------------------ pure helpers


def available_cores() -> int:
    """Cores this process may run on (respects taskset / cgroup cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_split(cores: int, processes: int) -> int:
    """Torch threads per process: the cores shared out evenly, never 0.

    More processes than cores leaves each one thread, and they share cores."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    return max(1, cores // processes)


def choose_app_ports(
    n: int, first: int, avoid: Iterable[int] = (), is_free: Callable[[int], bool] = lambda port: True
) -> list[int]:
    """``n`` distinct ports from ``first`` upwards, skipping ``avoid`` (the
    proxy's and the stats page's ports) and any port ``is_free`` rejects."""
    avoid = set(avoid)
    ports: list[int] = []
    port = first
    while len(ports) < n:
        if port > 65535:
            raise ServeError(f"no {n} free ports from {first} upwards: choose another --port")
        if port not in avoid and is_free(port):
            ports.append(port)
        port += 1
    return ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listening socket could bind ``host:port`` right now."""
    with contextlib.closing(socket.socket()) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def loopback_backends(ports: Sequence[int]) -> list[Backend]:
    """``app1``, ``app2``, ... on 127.0.0.1, one per port."""
    return [Backend(f"app{i}", "127.0.0.1", port) for i, port in enumerate(ports, start=1)]


def app_env(threads: int, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of one app process: its share of the cores.

    torch sizes its intra-op pool from OMP_NUM_THREADS at import (MKL's for
    MKL builds), so the app needs no setting of its own."""
    return {
        **base,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",  # its lines reach the hall's terminal as they happen
    }


def app_command(port: int, root: Path = ROOT, python: str = sys.executable) -> list[str]:
    """``streamlit run viz_app.py`` on loopback: only the proxy reaches it."""
    return [
        python, "-m", "streamlit", "run", str(Path(root) / "viz_app.py"),
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
    ]


def render_config(
    backends: Sequence[Backend],
    port: int = 8501,
    address: str = "0.0.0.0",
    stats_port: int | None = DEFAULT_STATS_PORT,
    *,
    system: bool = False,
    log_requests: bool = False,
) -> str:
    """HAProxy's configuration for a hall: one public port, sticky by cookie,
    WebSocket-friendly timeouts, health checks, the stats page on loopback.

    ``system`` is the school-server flavour (Debian's haproxy.service: chroot,
    its own user, syslog); otherwise it logs to stdout for ``serve``.
    ``log_requests`` logs every request with its process and User-Agent
    (tests and debugging; off for a class)."""
    if not backends:
        raise ValueError("a hall needs at least one app process")
    level = "info" if log_requests else "notice"  # notice: processes going down and up
    lines = [
        "# Attention Classroom: a lecture hall, N app processes behind HAProxy.",
        "# Generated by components/serve.py (render_config); "
        + ("regenerate with `python -m components serve --print-config --system --processes N`."
           if system else "written by `python -m components serve` for this run."),
        "",
        "global",
    ]
    if system:
        lines += [
            f"    log /dev/log local0 {level}",
            "    chroot /var/lib/haproxy",
            "    user haproxy",
            "    group haproxy",
        ]
    elif log_requests:  # without it, haproxy in the foreground still says on stderr when a process goes down or up
        lines += [f"    log stdout format raw local0 {level}"]
    lines += [
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        *(["    option httplog", "    option logasap  # a WebSocket is logged when it opens, not when it closes"]
          if log_requests else []),
        "    # a browser whose process is down (or refuses the connection) goes to another one",
        "    option redispatch",
        "    retries 2",
        "    timeout connect 3s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 30s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    # once upgraded, a page's WebSocket is a tunnel: a student may leave a page open",
        "    # and idle for a whole lesson, so the tunnel timeout replaces client/server",
        f"    timeout tunnel {TUNNEL_TIMEOUT}",
        "    timeout client-fin 10s",
        "    timeout check 3s",
        "",
        "frontend classroom",
        f"    bind {address}:{port}",
        *(["    capture request header User-Agent len 160"] if log_requests else []),
        "    default_backend apps",
        "",
        "backend apps",
        "    # a new browser goes to the process with the fewest open connections",
        "    # (an open page holds one WebSocket), then stays there by the cookie",
        "    balance leastconn",
        f"    cookie {STICKY_COOKIE} insert indirect nocache httponly attr \"SameSite=Lax\"",
        "    # Streamlit answers 200 on /_stcore/health while its server runs; two failed",
        "    # checks 2 s apart take a process out, and shutdown-sessions closes its pages'",
        "    # WebSockets, so that they reconnect (through the redispatch) to another process",
        "    option httpchk",
        f"    http-check send meth GET uri {HEALTH_PATH}",
        "    http-check expect status 200",
        "    default-server check inter 2s fall 2 rise 2 on-marked-down shutdown-sessions",
    ]
    lines += [f"    server {b.name} {b.host}:{b.port} cookie {b.name}" for b in backends]
    if system:
        lines += [
            "    # processes on another machine: one line each, with a name of its own, e.g.",
            "    #   server app9 10.0.0.12:8511 cookie app9",
            "    # there the app listens on its LAN address (--server.address 10.0.0.12), and a",
            "    # firewall lets only this proxy reach it: the app has no login of its own",
        ]
    if stats_port:
        lines += [
            "",
            "# the statistics page: this machine only (ssh -L to see it from elsewhere)",
            "listen stats",
            f"    bind 127.0.0.1:{stats_port}",
            "    stats enable",
            "    stats uri /",
            "    stats refresh 5s",
        ]
    return "\n".join(lines) + "\n"


def memory_warning(processes: int, available_bytes: int) -> str | None:
    """A message when ``processes`` copies of the model would not fit in memory."""
    need = processes * PROCESS_GB
    have = available_bytes / 2**30
    if need <= have:
        return None
    return (f"{processes} processes need about {need:.0f} GB (each holds its own ~2 GB model) "
            f"but {have:.1f} GB is available: use --processes {max(1, int(have // PROCESS_GB))} or fewer")


# ------------------------------------------------------------------- running


def find_haproxy() -> str:
    """The haproxy binary, or a ServeError that says how to install it."""
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ServeError(
            "haproxy is not installed: run `sudo apt-get install haproxy` (Debian/Ubuntu), then try again. "
            "A single process needs no proxy: `streamlit run viz_app.py`."
        )
    return found


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: children simply outlive a killed hall
    _LIBC = None


def _die_with_parent() -> None:
    """In the child, before exec: end if the hall process dies, so a killed
    hall never leaves 2 GB processes behind (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_WRITE_LOCK = threading.Lock()


def _forward(stream: TextIO, prefix: str, out: TextIO) -> None:
    """Copy a child's output line by line, each line prefixed with its name."""
    for line in iter(stream.readline, ""):
        with _WRITE_LOCK:
            out.write(f"{prefix} | {line}")
            out.flush()


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_hall(
    processes: int,
    port: int = 8501,
    address: str = "0.0.0.0",
    stats_port: int | None = DEFAULT_STATS_PORT,
    log_requests: bool = False,
    out: TextIO = sys.stderr,
) -> int:
    """Start ``processes`` app processes and HAProxy in front of them, in the
    foreground, until Ctrl+C / SIGTERM or until the proxy or every app ends.
    Returns an exit code (0 after Ctrl+C)."""
    haproxy = find_haproxy()  # before anything starts
    if processes < 1:
        raise ServeError("--processes must be at least 1")
    for p, what in ((port, "--port"), (stats_port, "--stats-port")):
        if p and not port_is_free(p, "127.0.0.1" if what == "--stats-port" else address):
            raise ServeError(f"port {p} ({what}) is in use: is another hall or `streamlit run` running? "
                             f"Stop it or choose another {what}.")
    cores = available_cores()
    threads = thread_split(cores, processes)
    with contextlib.suppress(Exception):
        import psutil

        warning = memory_warning(processes, psutil.virtual_memory().available)
        if warning:
            print(f"warning: {warning}", file=out, flush=True)
    ports = choose_app_ports(processes, port + 10, avoid=(port, stats_port or 0), is_free=port_is_free)
    backends = loopback_backends(ports)
    workdir = Path(tempfile.mkdtemp(prefix="attention-hall-"))
    config = workdir / "haproxy.cfg"
    config.write_text(render_config(backends, port, address, stats_port, log_requests=log_requests))
    check = subprocess.run([haproxy, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServeError(f"haproxy rejected its configuration: {(check.stderr or check.stdout).strip()}")
    if processes > cores:
        print(f"warning: {processes} processes on {cores} cores: they share the cores (1 torch thread each)",
              file=out, flush=True)

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[tuple[str, subprocess.Popen]] = []

    def spawn(name: str, cmd: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        # every child starts before any forwarding thread: preexec_fn is only
        # safe while the parent has a single thread
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=dict(env) if env else None, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, bufsize=1, preexec_fn=_die_with_parent,
        )
        children.append((name, proc))
        return proc

    try:
        env = app_env(threads, os.environ)
        print(f"Attention Classroom hall: {processes} app process(es) x {threads} torch thread(s) "
              f"on {cores} core(s)", file=out, flush=True)
        for b in backends:
            proc = spawn(b.name, app_command(b.port), env)
            print(f"  {b.name}  {b.host}:{b.port}  pid {proc.pid}", file=out, flush=True)
        proxy = spawn("proxy", [haproxy, "-db", "-f", str(config)])
        shown = "<this machine's address>" if address in ("0.0.0.0", "::") else address
        print(f"  proxy {address}:{port}  pid {proxy.pid}  config {config}", file=out, flush=True)
        if stats_port:
            print(f"  stats http://127.0.0.1:{stats_port}/ (this machine only)", file=out, flush=True)
        print(f"Students open http://{shown}:{port}/ ; Ctrl+C stops everything.", file=out, flush=True)
        for name, proc in children:
            threading.Thread(target=_forward, args=(proc.stdout, name, out), daemon=True).start()

        reported: set[str] = set()
        code = 0
        while not stop.wait(0.5):
            if proxy.poll() is not None:
                print(f"error: haproxy exited with code {proxy.returncode}; stopping the hall", file=out, flush=True)
                code = 1
                break
            for name, proc in children:
                if name != "proxy" and proc.poll() is not None and name not in reported:
                    reported.add(name)
                    print(f"{name} exited with code {proc.returncode}: the proxy sends its pages to the "
                          f"other processes (restart the hall after the class to get it back)", file=out, flush=True)
            if len(reported) == processes:
                print("error: every app process has ended; stopping the hall", file=out, flush=True)
                code = 1
                break
        return code
    finally:
        # the proxy first, so that no browser is sent to a process that is stopping
        for name, proc in sorted(children, key=lambda c: c[0] != "proxy"):
            _stop(proc)
        for s, handler in previous.items():
            signal.signal(s, handler)
        shutil.rmtree(workdir, ignore_errors=True)
        print("Attention Classroom hall: stopped", file=out, flush=True)


# ----------------------------------------------------------------------- CLI


def add_cli_arguments(p: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's options."""
    p.add_argument("--processes", type=int, default=2, help="app processes, each with its own ~2 GB model")
    p.add_argument("--port", type=int, default=8501, help="the port the class opens")
    p.add_argument("--address", default="0.0.0.0", help="the address the proxy listens on (0.0.0.0: every network)")
    p.add_argument("--stats-port", type=int, default=DEFAULT_STATS_PORT,
                   help="HAProxy's statistics page, on 127.0.0.1 only (0: none)")
    p.add_argument("--log-requests", action="store_true",
                   help="log every request with its process and browser (debugging, tests)")
    p.add_argument("--print-config", action="store_true",
                   help="print the HAProxy configuration and exit (with --system: for deploy/)")
    p.add_argument("--system", action="store_true",
                   help=f"with --print-config: the school-server flavour, apps on ports {SYSTEM_FIRST_APP_PORT}...")


def main_cli(args: argparse.Namespace) -> int:
    """``python -m components serve``: exit code 0 after Ctrl+C, 1 when the hall cannot run."""
    try:
        if args.processes < 1:
            raise ServeError("--processes must be at least 1")
        if args.print_config:
            first = SYSTEM_FIRST_APP_PORT if args.system else args.port + 10
            ports = choose_app_ports(args.processes, first, avoid=(args.port, args.stats_port))
            sys.stdout.write(render_config(loopback_backends(ports), args.port, args.address, args.stats_port or None,
                                           system=args.system, log_requests=args.log_requests))
            return 0
        return run_hall(args.processes, args.port, args.address, args.stats_port or None, args.log_requests)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

"""Train-if-changed and process orchestration for `make run` and the end-to-end tests.

A model is named after a hash of everything that shapes it (config, domain, training data,
the custom NLU components and policy), so an unchanged checkout never retrains and a test
run reuses the model `make run` trained, and vice versa.

    python -m bot.runtime train      # train only if the data changed
    python -m bot.runtime run        # train if needed, seed, start Rasa + actions + hub
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
VAR = ROOT / "var"

# Files whose content changes what `rasa train` produces.
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu", "bot/policy.py")


def _input_files(root: Path) -> Iterator[Path]:
    for name in MODEL_INPUTS:
        path = root / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )


def _content(path: Path) -> bytes:
    """What of a file shapes the model: YAML as parsed (a comment edit retrains nothing),
    everything else byte for byte."""
    raw = path.read_bytes()
    if path.suffix in (".yml", ".yaml"):
        import yaml

        try:
            return json.dumps(yaml.safe_load(raw), sort_keys=True, ensure_ascii=False,
                              default=str).encode()
        except yaml.YAMLError:
            return raw  # let `rasa train` report the broken file
    return raw


def model_hash(root: Path = ROOT, extra: Iterable[Path] = ()) -> str:
    """A short content hash of the training inputs (paths and contents)."""
    digest = hashlib.sha256()
    for path in [*_input_files(root), *extra]:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        digest.update(b"\0")
        digest.update(_content(path))
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return root / "models" / f"kefu-{model_hash(root)}.tar.gz"


def ensure_model(root: Path = ROOT, quiet: bool = False) -> Path:
    """Return the model for the current data, training it first if it does not exist."""
    target = model_path(root)
    if target.exists():
        if not quiet:
            print(f"[train] data unchanged, using {target.relative_to(root)}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"[train] data changed: training {target.name} (progress below) ...", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [
            _venv_bin("rasa"), "train",
            "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            "--out", tmp, "--fixed-model-name", "model",
        ]
        subprocess.run(cmd, cwd=root, check=True, env=training_env())
        # Atomic: a half-written model never has the final name.
        os.replace(Path(tmp) / "model.tar.gz", target)
    prune_models(target.parent, keep=target)
    print(f"[train] done in {time.monotonic() - started:.0f} s -> {target.relative_to(root)}")
    return target


def training_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for `rasa train`: the same inputs must give the same model on every machine.

    The seeds in config.yml fix the initial weights and the batch order; TensorFlow also needs
    deterministic kernels (TF_DETERMINISTIC_OPS), and Python's string hashing must not vary
    between runs (PYTHONHASHSEED) because Rasa builds some label sets from Python sets. The
    order of data files is not an issue: Rasa 3.6 sorts the files it finds in `data/`.
    """
    env = dict(os.environ if base is None else base)
    env.update({"PYTHONHASHSEED": "0", "TF_DETERMINISTIC_OPS": "1"})
    return env


def prune_models(folder: Path, keep: Path, spare: int = 1) -> None:
    """Keep the new model and the `spare` most recent others (each is ~120 MB)."""
    others = sorted(
        (p for p in folder.glob("kefu-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in others[spare:]:
        old.unlink(missing_ok=True)


def _venv_bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def rasa_launcher() -> list[str]:
    """`rasa` with the answer-neutral per-process speed-ups of `bot.rasa_server`."""
    return [sys.executable, "-m", "bot.rasa_server"]


def rasa_workers(env: dict[str, str] | None = None) -> int:
    """How many Rasa server processes to start (`RASA_WORKERS`, default 1).

    One Rasa process is one event loop on one core; the hub spreads conversations over
    several (sticky by conversation id, as each process has its own lock store)."""
    raw = (env if env is not None else os.environ).get("RASA_WORKERS", "1").strip() or "1"
    workers = int(raw)
    if workers < 1:
        raise ValueError("RASA_WORKERS must be at least 1")
    return workers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 2xx; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if 200 <= resp.status < 300:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f} s")


@dataclass
class Stack:
    """The running processes of one bot deployment (Rasa, action server, optionally the hub)."""

    rasa_url: str
    action_url: str
    hub_url: str | None = None
    rasa_urls: list[str] = field(default_factory=list)  # every Rasa process; rasa_url is the first
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    hub_banner: str = ""

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def write_endpoints(path: Path, action_url: str, tracker_db: Path | None) -> Path:
    """Endpoints for one deployment: the action server, and a SQL tracker store.

    PostgreSQL trackers and the Redis lock store are used when `DATABASE_URL` /
    `REDIS_URL` are set, so several Rasa processes share conversations.
    """
    lines = [f"action_endpoint:\n  url: {action_url}\n"]
    db_url = os.environ.get("TRACKER_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if db_url and db_url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        url = make_url(db_url)
        lines.append(
            "tracker_store:\n  type: SQL\n  dialect: postgresql\n"
            f"  url: {url.host or '127.0.0.1'}\n  port: {url.port or 5432}\n"
            f"  db: {url.database}\n  username: {url.username or 'postgres'}\n"
            f"  password: {url.password or ''}\n"
        )
    elif tracker_db is not None:
        lines.append(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tracker_db}\n")
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        from urllib.parse import urlparse

        parsed = urlparse(redis_url)
        lines.append(
            "lock_store:\n  type: redis\n"
            f"  url: {parsed.hostname or '127.0.0.1'}\n  port: {parsed.port or 6379}\n"
            f"  db: {(parsed.path or '/0').strip('/') or 0}\n"
        )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_stack(
    model: Path,
    *,
    root: Path = ROOT,
    rasa_port: int | None = None,
    action_port: int | None = None,
    hub_port: int | None = None,
    with_hub: bool = False,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    tracker_db: Path | None = None,
) -> Stack:
    """Start the action server, the Rasa server (API + REST channel) and optionally the hub."""
    rasa_port = rasa_port or free_port()
    action_port = action_port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="kefu-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    run_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    endpoints = write_endpoints(log_dir / "endpoints.yml", action_url, tracker_db)
    stack = Stack(rasa_url=f"http://127.0.0.1:{rasa_port}", action_url=action_url)

    def spawn(name: str, cmd: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        log = log_dir / f"{name}.log"
        stack.logs.append(log)
        handle = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        proc = subprocess.Popen(
            cmd, cwd=root, env={**run_env, **(extra_env or {})}, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        stack.processes.append(proc)
        return proc

    try:
        actions = spawn(
            "actions",
            [_venv_bin("rasa"), "run", "actions", "--port", str(action_port), "--actions", "actions"],
        )
        # RASA_WORKERS processes share the tracker store; each keeps its own lock store, so the
        # hub sends one conversation always to the same process (handoff/rasa_client.py). The
        # first one creates the tracker tables; the others start once it is up (no create race,
        # and on a small box loading models in parallel is not faster anyway).
        for i in range(rasa_workers(run_env)):
            port = rasa_port if i == 0 else free_port()
            rasa = spawn(
                "rasa" if i == 0 else f"rasa-{i + 1}",
                [
                    *rasa_launcher(), "run", "--enable-api", "--model", str(model),
                    "--port", str(port), "--endpoints", str(endpoints),
                    "--credentials", "credentials.yml", "--cors", "*",
                ],
            )
            stack.rasa_urls.append(f"http://127.0.0.1:{port}")
            if i == 0:
                wait_http(f"http://127.0.0.1:{action_port}/health", 120, actions)
            wait_http(f"http://127.0.0.1:{port}/status", 300, rasa)
        if with_hub:
            hub_port = hub_port or free_port()
            hub_log = log_dir / "hub.log"
            banner_from = hub_log.stat().st_size if hub_log.exists() else 0
            hub = spawn(
                "hub",
                [sys.executable, "-m", "handoff"],
                {"HUB_PORT": str(hub_port), "RASA_URL": ",".join(stack.rasa_urls)},
            )
            stack.hub_url = f"http://127.0.0.1:{hub_port}"
            wait_http(f"{stack.hub_url}/healthz", 60, hub)
            stack.hub_banner = hub_banner(hub_log, banner_from)
    except BaseException:
        stack.stop()
        for log in stack.logs:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            print(f"--- {log.name} ---\n{tail}", file=sys.stderr)
        raise
    return stack


def hub_banner(log: Path, offset: int) -> str:
    """The hub's start banner (logins, demo links) from this start's part of its log."""
    with open(log, "rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", errors="replace")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "kefu hub"), None)
    if start is None:
        return ""
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i].startswith(" ")),
        len(lines),
    )
    return "\n".join(lines[start:end]).rstrip()


@contextmanager
def running_stack(model: Path, **kwargs) -> Iterator[Stack]:
    stack = start_stack(model, **kwargs)
    try:
        yield stack
    finally:
        stack.stop()


def seed_if_empty() -> None:
    subprocess.run([sys.executable, "-m", "bot.orders.seed", "--if-empty"], cwd=ROOT, check=True)


def _hub_available() -> bool:
    return (ROOT / "handoff" / "__main__.py").exists()


def run(args: argparse.Namespace) -> int:
    VAR.mkdir(exist_ok=True)
    model = ensure_model()
    seed_if_empty()
    print("[run] starting the action server, the Rasa server and the hub ...", flush=True)
    stack = start_stack(
        model,
        rasa_port=args.rasa_port,
        action_port=args.action_port,
        hub_port=args.hub_port,
        with_hub=_hub_available(),
        log_dir=VAR / "logs",
        tracker_db=VAR / "trackers.db",
    )
    print(
        "\n"
        f"  Rasa server (REST channel, --enable-api): {stack.rasa_url}\n"
        f"  Action server:                            {stack.action_url}\n"
        + (f"\n{stack.hub_banner}\n\n" if stack.hub_banner else
           f"  Hub (shop page + chat widget):            {stack.hub_url}/\n"
           f"  Agent console:                            {stack.hub_url}/console\n"
           if stack.hub_url else "")
        + f"  Logs:                                     {VAR / 'logs'}\n\n"
        "  Chat from a terminal:\n"
        f"    curl -s {stack.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\\n"
        "      -d '{\"sender\": \"me\", \"message\": \"你好,我的快递到哪了\"}'\n"
        f"  or: .venv/bin/rasa shell --model {model.relative_to(ROOT)}\n\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop["now"]:
            dead = [p for p in stack.processes if p.poll() is not None]
            if dead:
                print(f"[run] a process exited ({dead[0].args[:3]}); stopping. See {VAR / 'logs'}")
                break
            time.sleep(0.5)
    finally:
        print("[run] stopping ...", flush=True)
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.runtime")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("train", help="train only if config or data changed")
    sub.add_parser("hash", help="print the model hash of the current data")
    p_run = sub.add_parser("run", help="train if needed, seed, start everything")
    p_run.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    p_run.add_argument("--action-port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    p_run.add_argument("--hub-port", type=int, default=int(os.environ.get("HUB_PORT", 8000)))
    args = parser.parse_args(argv)
    if args.cmd == "hash":
        print(model_hash())
        return 0
    if args.cmd == "train":
        ensure_model()
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Train-if-changed and `make run` (the processes are started by `bot.stack`).

A model is named after a hash of everything that shapes it (config, domain, training data,
the custom NLU components and policy), so an unchanged checkout never retrains and a test
run reuses the model `make run` trained, and vice versa.

    python -m bot.runtime train      # train only if the data changed
    python -m bot.runtime run        # train if needed, seed, start Rasa + actions + hub
    python -m bot.runtime serve-rasa # one Rasa server in a container (docker-compose.yml)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.rasa_server import SAME_KERNELS
from bot.stack import rasa_command, start_stack, venv_bin, write_endpoints

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
            venv_bin("rasa"), "train",
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
    deterministic kernels (TF_DETERMINISTIC_OPS) and the same oneDNN code on every CPU
    (`SAME_KERNELS`), and Python's string hashing must not vary between runs (PYTHONHASHSEED)
    because Rasa builds some label sets from Python sets. The order of data files is not an
    issue: Rasa 3.6 sorts the files it finds in `data/`.
    """
    env = dict(os.environ if base is None else base)
    env.update({"PYTHONHASHSEED": "0", "TF_DETERMINISTIC_OPS": "1", **SAME_KERNELS})
    return env


def prune_models(folder: Path, keep: Path, spare: int = 1) -> None:
    """Keep the new model and the `spare` most recent others (each is ~120 MB)."""
    others = sorted(
        (p for p in folder.glob("kefu-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in others[spare:]:
        old.unlink(missing_ok=True)


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
        # the console's knowledge base publishes edits here: it retrains this checkout's data
        hub_env={"HUB_KB_RETRAIN": os.environ.get("HUB_KB_RETRAIN", "1")},
    )
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
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
        while not stop["now"]:
            dead = [p for p in stack.processes if p.poll() is not None]
            if dead:
                print(f"[run] the {dead[0].name} process exited; stopping. See {VAR / 'logs'}")
                break
            time.sleep(0.5)
    finally:
        print("[run] stopping ...", flush=True)
        stack.stop()
    return 0


def serve_rasa_argv(port: int, endpoints: Path, env: dict[str, str] | None = None) -> list[str]:
    """The command of a containerised Rasa server: the model of this checkout's data, which the
    image trained at build time (never here: a container must not train or download anything at
    start), and endpoints written from the environment like `make run` writes them (`ACTION_URL`;
    PostgreSQL trackers from `DATABASE_URL`, the Redis lock store from `REDIS_URL`)."""
    env = dict(os.environ if env is None else env)
    model = model_path()
    if not model.exists():
        raise SystemExit(f"{model} is missing: build the image (it trains at build time) or mount models/ "
                         "trained from the same data (`make train`)")
    write_endpoints(endpoints, env.get("ACTION_URL", "http://127.0.0.1:5055/webhook"), VAR / "trackers.db", env)
    return rasa_command(model, port, endpoints)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.runtime")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("train", help="train only if config or data changed")
    sub.add_parser("hash", help="print the model hash of the current data")
    p_run = sub.add_parser("run", help="train if needed, seed, start everything")
    p_run.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    p_run.add_argument("--action-port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    p_run.add_argument("--hub-port", type=int, default=int(os.environ.get("HUB_PORT", 8000)))
    p_serve = sub.add_parser("serve-rasa", help="one Rasa server for a container: endpoints from the "
                                                "environment, the model built into the image")
    p_serve.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    p_serve.add_argument("--endpoints", default=str(VAR / "endpoints.yml"))
    p_serve.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    if args.cmd == "serve-rasa":
        VAR.mkdir(exist_ok=True)
        argv_rasa = serve_rasa_argv(args.port, Path(args.endpoints))
        if args.dry_run:
            print(" ".join(argv_rasa))
            return 0
        os.chdir(ROOT)
        os.execv(argv_rasa[0], argv_rasa)  # Rasa becomes the container's main process (signals)
    if args.cmd == "hash":
        print(model_hash())
        return 0
    if args.cmd == "train":
        ensure_model()
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

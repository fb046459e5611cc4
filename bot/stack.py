"""Starting, waiting for and stopping the processes of one deployment, written once.

`make run` (bot/runtime.py), the benchmarks (bench/) and the tests (tests/stack_fixtures.py,
tests/hub/) all start the action server, the Rasa servers and the hub through this module, so
what is measured and tested is what runs in production. Each process is a `Service`: its
command, its environment, a log file and a URL that answers 2xx once it is ready.

The scaled set-up of docker-compose.yml runs here as local processes too: several action
servers and hubs behind HAProxy with the same `deploy/haproxy.cfg` (`start_stack(...,
action_servers=2, hubs=2, balancer=True)`), on PostgreSQL and Redis when `DATABASE_URL` and
`REDIS_URL` say so.
"""

from __future__ import annotations

import csv
import io
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
BALANCED_SLOTS = 2  # server lines per back end in deploy/haproxy.cfg


def free_port() -> int:
    """An unused loopback port; the child binds it right after, so races are unlikely."""
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
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up within {timeout:.0f} s")


def venv_bin(name: str) -> str:
    """A command of this interpreter's venv (`rasa`), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


class Service:
    """One child process: started in its own session (Ctrl-C reaches only the parent, which
    stops the children in order), output appended to `log_path` (or a fresh log)."""

    def __init__(self, name: str, cmd: list[str], log_path: Path, ready_url: str,
                 env: Mapping[str, str | None] | None = None, fresh_log: bool = False,
                 tree: Path = ROOT) -> None:
        self.name, self.cmd, self.log_path, self.ready_url = name, cmd, log_path, ready_url
        self.tree = tree  # the checkout it runs from (another one for before/after benchmarks)
        # a None value removes a variable the parent has (e.g. REDIS_URL for a hub without Redis)
        merged = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.env = {k: v for k, v in merged.items() if v is not None}
        self.fresh_log = fresh_log
        self.log_from = 0  # where this start's output begins in the log
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def start(self, timeout: float = 60) -> Service:
        """Start and wait until ready; on failure stop it and raise with the log's tail."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.fresh_log:
            self.log_path.write_bytes(b"")
        self.log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the handle
            self.proc = subprocess.Popen(self.cmd, cwd=self.tree, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        if timeout:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        try:
            wait_http(self.ready_url, timeout, self.proc)
        except BaseException as exc:
            self.stop()
            raise RuntimeError(f"{self.name} did not start ({exc}):\n{self.log_tail()}") from exc

    def stop(self, timeout: float = 15) -> None:
        """SIGINT (a clean shutdown), then kill after `timeout`: only the process we started."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL this process only (a crash: no clean shutdown), and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float = 60) -> None:
        """Stop and start again with the same port, environment and log (clients reconnect)."""
        self.stop()
        self.fresh_log = False
        self.start(timeout)

    def logs(self) -> str:
        """Everything this service wrote to its log, this start and earlier ones."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.logs()[-chars:]
        except OSError:
            return ""


class HubService(Service):
    """`python -m handoff` as deployed, on `HUB_PORT` from `env` or a free port."""

    def __init__(self, env: Mapping[str, str | None], log_path: Path, fresh_log: bool = False,
                 tree: Path = ROOT) -> None:
        self.port = int(env.get("HUB_PORT") or 0) or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        super().__init__("hub", [sys.executable, "-m", "handoff"], log_path, f"{self.url}/healthz",
                         {**env, "HUB_PORT": str(self.port)}, fresh_log, tree)

    def banner(self) -> str:
        """The start banner (logins, demo links) from this start's part of the log."""
        with open(self.log_path, "rb") as handle:
            handle.seek(self.log_from)
            text = handle.read().decode("utf-8", errors="replace")
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip() == "kefu hub"), None)
        if start is None:
            return ""
        end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i].startswith(" ")),
                   len(lines))
        return "\n".join(lines[start:end]).rstrip()


def start_hub(env: Mapping[str, str | None], log_path: Path, fresh_log: bool = False,
              timeout: float = 60) -> HubService:
    """A hub process, ready (its `/healthz` answers 200)."""
    hub = HubService(env, log_path, fresh_log)
    hub.start(timeout)
    return hub


def action_server(port: int, log_path: Path, env: Mapping[str, str | None] | None = None,
                  name: str = "actions") -> Service:
    """The rasa-sdk action server serving `actions/`, as deployed (not started yet)."""
    return Service(name, [venv_bin("rasa"), "run", "actions", "--port", str(port), "--actions", "actions"],
                   log_path, f"http://127.0.0.1:{port}/health", env)


def haproxy_bin() -> str:
    """The HAProxy binary (Debian's `haproxy` package) for the balanced set-up."""
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                             if Path(p).exists()), None)
    if found is None:
        raise RuntimeError("HAProxy is needed for the balanced set-up: apt-get install haproxy")
    return found


def balancer_env(hubs: list[str], actions: list[str], hub_port: int, action_port: int,
                 status_port: int) -> dict[str, str]:
    """The variables `deploy/haproxy.cfg` reads for local processes: `host:port` of each hub and
    action server (with fewer than the file's slots, the last one fills the rest), and the binds."""
    def slots(addresses: list[str], name: str) -> dict[str, str]:
        if not 1 <= len(addresses) <= BALANCED_SLOTS:
            raise ValueError(f"deploy/haproxy.cfg balances 1 to {BALANCED_SLOTS} {name}, got {len(addresses)}")
        padded = addresses + [addresses[-1]] * (BALANCED_SLOTS - len(addresses))
        return {f"{name.upper()}{i + 1}": address for i, address in enumerate(padded)}

    return {**slots(hubs, "hub"), **slots(actions, "actions"),
            "LB_HUB_BIND": f"127.0.0.1:{hub_port}", "LB_ACTIONS_BIND": f"127.0.0.1:{action_port}",
            "LB_STATUS_BIND": f"127.0.0.1:{status_port}"}


class BalancerService(Service):
    """HAProxy with `deploy/haproxy.cfg`, as in docker-compose.yml: a hub front end and an
    action-server front end, active health checks on `/healthz` and `/health`."""

    def __init__(self, hubs: list[str], actions: list[str], log_path: Path) -> None:
        self.hub_port, self.action_port, self.status_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.hub_port}"
        self.action_url = f"http://127.0.0.1:{self.action_port}/webhook"
        self.status_url = f"http://127.0.0.1:{self.status_port}"
        env = balancer_env(hubs, actions, self.hub_port, self.action_port, self.status_port)
        super().__init__("balancer", [haproxy_bin(), "-db", "-f", str(HAPROXY_CFG)], log_path,
                         f"{self.status_url}/lb-health", env)

    def server_states(self) -> dict[str, str]:
        """`backend/server` -> HAProxy's status (UP, DOWN, MAINT, ...) from its CSV stats."""
        with urllib.request.urlopen(f"{self.status_url}/lb-stats;csv", timeout=5) as resp:
            text = resp.read().decode().lstrip("# ")
        return {f"{row['pxname']}/{row['svname']}": row["status"] for row in csv.DictReader(io.StringIO(text))
                if row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_all_up(self, timeout: float = 30) -> None:
        """Until every server line is UP (health checks passed `rise` times)."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.server_states()
            if states and all(state.startswith("UP") for state in states.values()):
                return
            time.sleep(0.3)
        raise TimeoutError(f"balancer back ends not all up within {timeout:.0f} s: {states}")


def rasa_launcher() -> list[str]:
    """`rasa` with the answer-neutral per-process speed-ups of `bot.rasa_server`."""
    return [sys.executable, "-m", "bot.rasa_server"]


def rasa_command(model: Path, port: int, endpoints: Path, rasa_cmd: list[str] | None = None) -> list[str]:
    """A Rasa server (API + REST channel) as `make run`, the tests and the containers start it."""
    return [*(rasa_cmd or rasa_launcher()), "run", "--enable-api", "--model", str(model), "--port", str(port),
            "--endpoints", str(endpoints), "--credentials", "credentials.yml", "--cors", "*"]


def rasa_workers(env: Mapping[str, str] | None = None) -> int:
    """How many Rasa server processes to start (`RASA_WORKERS`, default 1).

    One Rasa process is one event loop on one core; the hub spreads conversations over
    several (sticky by conversation id, as each process has its own lock store)."""
    raw = (env if env is not None else os.environ).get("RASA_WORKERS", "1").strip() or "1"
    workers = int(raw)
    if workers < 1:
        raise ValueError("RASA_WORKERS must be at least 1")
    return workers


def endpoints_config(action_url: str, tracker_db: Path | None,
                     env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Rasa's endpoints for one deployment: the action server and a SQL tracker store.

    PostgreSQL trackers and the Redis lock store are used when `TRACKER_DATABASE_URL` /
    `DATABASE_URL` / `REDIS_URL` say so, so several Rasa processes share conversations;
    `TRACKER_DATABASE_URL=redis://…` keeps the trackers in Redis instead (Rasa's own store)."""
    from urllib.parse import unquote, urlparse

    from sqlalchemy.engine import make_url

    env = os.environ if env is None else env
    config: dict[str, Any] = {"action_endpoint": {"url": action_url}}
    db_url = env.get("TRACKER_DATABASE_URL") or env.get("DATABASE_URL")
    if db_url and db_url.startswith(("redis://", "rediss://")):
        parsed = urlparse(db_url)
        config["tracker_store"] = {
            "type": "redis", "url": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379,
            "db": int((parsed.path or "/0").strip("/") or 0), "key_prefix": "kefu",
            "password": unquote(parsed.password) if parsed.password else None,
            "use_ssl": parsed.scheme == "rediss",
        }
    elif db_url and db_url.startswith("postgresql"):
        url = make_url(db_url)
        config["tracker_store"] = {
            "type": "SQL", "dialect": "postgresql", "url": url.host or "127.0.0.1", "port": url.port or 5432,
            "db": url.database, "username": url.username or "postgres", "password": url.password or None,
        }
    elif tracker_db is not None:
        config["tracker_store"] = {"type": "SQL", "dialect": "sqlite", "db": str(tracker_db)}
    redis_url = env.get("REDIS_URL")
    if redis_url:
        parsed = urlparse(redis_url)
        config["lock_store"] = {"type": "redis", "url": parsed.hostname or "127.0.0.1",
                                "port": parsed.port or 6379, "db": int((parsed.path or "/0").strip("/") or 0)}
    return config


def write_endpoints(path: Path, action_url: str, tracker_db: Path | None,
                    env: Mapping[str, str] | None = None) -> Path:
    """`endpoints_config` as the YAML file `rasa run --endpoints` reads."""
    import yaml

    path.write_text(yaml.safe_dump(endpoints_config(action_url, tracker_db, env), sort_keys=False,
                                   allow_unicode=True), encoding="utf-8")
    return path


def _names(kind: str, count: int) -> list[str]:
    """`rasa`, `rasa-2`, `rasa-3`, ...: the first keeps the plain name `make run` has always used."""
    return [kind if i == 0 else f"{kind}-{i + 1}" for i in range(count)]


@dataclass
class Stack:
    """The running processes of one bot deployment (actions, Rasa, optionally the hub)."""

    rasa_url: str
    action_url: str  # what Rasa calls: the action server, or the balancer in front of several
    hub_url: str | None = None  # the hub, or the balancer in front of several
    rasa_urls: list[str] = field(default_factory=list)  # every Rasa process; rasa_url is the first
    hub_urls: list[str] = field(default_factory=list)  # every hub process
    processes: list[Service] = field(default_factory=list)  # actions, the Rasa servers, the hub
    hub_banner: str = ""
    balancer: BalancerService | None = None

    @property
    def logs(self) -> list[Path]:
        return [service.log_path for service in self.processes]

    def service(self, name: str) -> Service:
        """A process by name: `actions`, `actions-2`, `rasa`, `rasa-2`, `hub`, `hub-2`, `balancer`."""
        return next(s for s in self.processes if s.name == name)

    def services(self, kind: str) -> list[Service]:
        """Every process of a kind (`actions`, `rasa`, `hub`), first one first."""
        return [s for s in self.processes if s.name == kind or s.name.startswith(f"{kind}-")]

    def add_hub(self, env: Mapping[str, str | None], log_path: Path, timeout: float = 60,
                name: str = "hub") -> HubService:
        """A hub on this stack's Rasa servers, ready, and stopped with the stack."""
        hub = HubService({**env, "RASA_URL": ",".join(self.rasa_urls)}, log_path)
        hub.name = name
        self.processes.append(hub)
        hub.start(timeout)
        return hub

    def stop(self) -> None:
        """SIGINT to all at once (they shut down in parallel), then wait for each."""
        for service in self.processes:
            if service.poll() is None and service.proc is not None:
                service.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for service in self.processes:
            service.stop(timeout=max(0.1, deadline - time.monotonic()))


def start_stack(
    model: Path,
    *,
    rasa_port: int | None = None,
    action_port: int | None = None,
    hub_port: int | None = None,
    with_hub: bool = False,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    tracker_db: Path | None = None,
    rasa_cmd: list[str] | None = None,
    workers: int | None = None,
    action_servers: int = 1,
    hubs: int = 1,
    balancer: bool = False,
    hub_env: Mapping[str, str | None] | None = None,
) -> Stack:
    """Start `action_servers` action servers, `workers` Rasa servers (API + REST channel;
    default `RASA_WORKERS`) and optionally `hubs` hubs; each is ready when this returns.

    `balancer` puts HAProxy (`deploy/haproxy.cfg`) in front of the action servers (Rasa calls
    it) and the hubs (`Stack.hub_url` is then the balancer). `hub_env` adds to the hubs'
    environment. `rasa_cmd` replaces the Rasa launcher (default `rasa_launcher()`, the deployed
    one), e.g. `[".venv/bin/rasa"]` to measure stock Rasa."""
    if (action_servers > 1 or (with_hub and hubs > 1)) and not balancer:
        raise ValueError("several action servers or hubs need balancer=True")
    rasa_port = rasa_port or free_port()
    action_ports = [action_port or free_port()] + [free_port() for _ in range(action_servers - 1)]
    hub_ports = ([hub_port or int((env or {}).get("HUB_PORT") or 0) or free_port()]
                 + [free_port() for _ in range(hubs - 1)])
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="kefu-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    run_env = {**os.environ, **(env or {})}
    lb = BalancerService([f"127.0.0.1:{p}" for p in hub_ports] if with_hub else [f"127.0.0.1:{free_port()}"],
                         [f"127.0.0.1:{p}" for p in action_ports], log_dir / "balancer.log") if balancer else None
    action_url = lb.action_url if lb else f"http://127.0.0.1:{action_ports[0]}/webhook"
    endpoints = write_endpoints(log_dir / "endpoints.yml", action_url, tracker_db, run_env)
    stack = Stack(rasa_url=f"http://127.0.0.1:{rasa_port}", action_url=action_url, balancer=lb)

    def add(service: Service, timeout: float) -> Service:
        stack.processes.append(service)
        service.start(timeout)
        return service

    try:
        # RASA_WORKERS processes share the tracker store; each keeps its own lock store, so the
        # hub sends one conversation always to the same process (handoff/rasa_client.py). The
        # first one creates the tracker tables; the others start once it is up (no create race,
        # and on a small box loading models in parallel is not faster anyway). The action server
        # loads while the first Rasa server does.
        action_services = [add(action_server(port, log_dir / f"{name}.log", env, name), timeout=0)
                           for port, name in zip(action_ports, _names("actions", action_servers), strict=True)]
        if lb is not None:
            add(lb, timeout=30)
        for i in range(workers or rasa_workers(run_env)):
            port = rasa_port if i == 0 else free_port()
            add(Service("rasa" if i == 0 else f"rasa-{i + 1}", rasa_command(model, port, endpoints, rasa_cmd),
                        log_dir / ("rasa.log" if i == 0 else f"rasa-{i + 1}.log"),
                        f"http://127.0.0.1:{port}/status", env), timeout=0)
            stack.rasa_urls.append(f"http://127.0.0.1:{port}")
            if i == 0:
                for actions in action_services:
                    actions.wait_ready(120)
            stack.processes[-1].wait_ready(300)
        if with_hub:
            for i, port in enumerate(hub_ports):
                hub = stack.add_hub({**(env or {}), **(hub_env or {}), "HUB_PORT": str(port),
                                     **({"HUB_PROXIES_COUNT": "1"} if lb else {})},
                                    log_dir / f"{_names('hub', hubs)[i]}.log", name=_names("hub", hubs)[i])
                stack.hub_urls.append(hub.url)
                if i == 0:
                    stack.hub_banner = hub.banner()
            stack.hub_url = lb.url if lb else stack.hub_urls[0]
        if lb is not None and with_hub:
            lb.wait_all_up(30)
    except BaseException:
        stack.stop()
        for log in stack.logs:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else ""
            print(f"--- {log.name} ---\n{tail}", file=sys.stderr)
        raise
    return stack


@contextmanager
def running_stack(model: Path, **kwargs: Any) -> Iterator[Stack]:
    stack = start_stack(model, **kwargs)
    try:
        yield stack
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.stack check URL`: exit 0 when URL answers 2xx within 3 s (the containers'
    health checks; the image has Python but no curl)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot.stack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    check = sub.add_parser("check", help="exit 0 if URL answers 2xx")
    check.add_argument("url")
    args = parser.parse_args(argv)
    try:
        with urllib.request.urlopen(args.url, timeout=3) as resp:
            return 0 if 200 <= resp.status < 300 else 1
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        print(f"{args.url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

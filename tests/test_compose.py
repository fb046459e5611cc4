"""docker-compose.yml and the Dockerfile against what the stack harness runs (bot/stack.py):
commands, ports, health checks, environment, start order, the balancer's addresses.

No Docker engine runs on the development machines or in CI, so images are not built here. What
is checked: the compose file as Compose itself resolves it (`docker compose config`, when the
Compose CLI is installed; otherwise the YAML with its anchors), every service's command against
the code, the balancer's config with the compose addresses by the real HAProxy (`haproxy -c`),
and that the Dockerfile copies every training input before it trains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from bot.runtime import MODEL_INPUTS
from bot.stack import HAPROXY_CFG, ROOT, endpoints_config, haproxy_bin
from tests.services import require_haproxy

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = {"init", "actions-1", "actions-2", "rasa-1", "rasa-2", "hub-1", "hub-2"}


def compose_cli() -> list[str] | None:
    """`docker compose` (plugin) or `docker-compose` (v2 binary), if installed."""
    if shutil.which("docker"):
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if ok.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The resolved compose model: from `docker compose config` when available, else the YAML
    (PyYAML resolves the anchors and `<<` merges the same way)."""
    cli = compose_cli()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "POSTGRES_", "LB_"))}
    if cli is not None:
        proc = subprocess.run([*cli, "-f", str(COMPOSE), "config", "--format", "json"], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    raw = COMPOSE.read_text(encoding="utf-8")
    # ${VAR:-default} as Compose interpolates it with the variable unset
    raw = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", raw)
    return yaml.safe_load(raw)


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    return command if isinstance(command, list) else str(command).split()


def health_test(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, list) else ["CMD-SHELL", test]


def test_the_services_of_the_scaled_setup(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == APP_SERVICES | {"postgres", "redis", "lb"}
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["image"] == "kefu-bot:local" and "build" in service, name
        env = env_of(service)
        assert urlparse(env["DATABASE_URL"]).hostname == "postgres", name
        assert env["REDIS_URL"].startswith("redis://redis:"), name


def test_every_long_running_service_has_a_health_check_on_its_own_port(compose: dict[str, Any]) -> None:
    ports = {"rasa": ("5005", "/status"), "actions": ("5055", "/health"), "hub": ("8000", "/healthz")}
    for name, service in compose["services"].items():
        if name == "init":
            assert "healthcheck" not in service and service.get("restart") in ("no", None)
            continue
        test = health_test(service)
        kind = name.rsplit("-", 1)[0]
        if kind in ports:
            port, path = ports[kind]
            assert test[1:5] == ["python", "-m", "bot.stack", "check"], name
            assert test[5] == f"http://127.0.0.1:{port}{path}", name
            cmd = command_of(service)
            assert (cmd[cmd.index("--port") + 1] if "--port" in cmd else env_of(service)["HUB_PORT"]) == port, name
    assert health_test(compose["services"]["lb"])[-1] == "http://127.0.0.1:8404/lb-health"


def test_the_health_check_command_works() -> None:
    """`python -m bot.stack check URL`: 1 when nothing answers (0 is covered by the stack tests'
    readiness polling of the same URLs)."""
    from bot.stack import free_port

    proc = subprocess.run([sys.executable, "-m", "bot.stack", "check", f"http://127.0.0.1:{free_port()}/healthz"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1


def test_commands_are_the_ones_the_harness_runs(compose: dict[str, Any], tmp_path: Path) -> None:
    services = compose["services"]
    for name in ("actions-1", "actions-2"):
        assert command_of(services[name]) == ["rasa", "run", "actions", "--port", "5055", "--actions", "actions"]
    for name in ("hub-1", "hub-2"):
        assert command_of(services[name]) == ["python", "-m", "handoff"]
    assert command_of(services["init"]) == ["python", "-m", "bot.orders.seed", "--if-empty"]
    # serve-rasa: bot.stack's Rasa command, endpoints from the container's environment
    for name in ("rasa-1", "rasa-2"):
        cmd = command_of(services[name])
        assert cmd[:4] == ["python", "-m", "bot.runtime", "serve-rasa"]
        env = {**os.environ, **env_of(services[name]), "PYTHONPATH": str(ROOT)}
        endpoints = tmp_path / f"{name}.yml"
        proc = subprocess.run([sys.executable, *cmd[1:], "--dry-run", "--endpoints", str(endpoints)],
                              cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
        if "is missing" in proc.stderr:
            pytest.skip("no trained model for this data in models/ (the image trains it at build time)")
        assert proc.returncode == 0, proc.stderr
        argv = proc.stdout.split()
        assert argv[1:4] == ["-m", "bot.rasa_server", "run"] and argv[argv.index("--port") + 1] == "5005"
        written = yaml.safe_load(endpoints.read_text(encoding="utf-8"))
        assert written == endpoints_config(env_of(services[name])["ACTION_URL"], None, env_of(services[name]))
        assert written["tracker_store"]["dialect"] == "postgresql" and written["tracker_store"]["url"] == "postgres"
        assert written["lock_store"] == {"type": "redis", "url": "redis", "port": 6379, "db": 0}
        assert written["action_endpoint"]["url"] == "http://lb:5055/webhook"


def test_hubs_balancer_and_rasa_agree_on_addresses(compose: dict[str, Any]) -> None:
    services = compose["services"]
    hubs = [env_of(services[n]) for n in ("hub-1", "hub-2")]
    rasa = sorted(n for n in services if n.startswith("rasa-"))
    for env in hubs:
        assert env["RASA_URL"].split(",") == [f"http://{n}:5005" for n in rasa]
        assert env["HUB_HOST"] == "0.0.0.0" and env["HUB_PORT"] == "8000" and env["HUB_PROXIES_COUNT"] == "1"
        assert urlparse(env["HUB_DATABASE_URL"]).hostname == "postgres"
    assert len({env["HUB_IDENTITY_SECRET"] for env in hubs}) == 1  # identities verify on any hub
    lb = env_of(services["lb"])
    assert {lb["HUB1"], lb["HUB2"]} == {"hub-1:8000", "hub-2:8000"}
    assert {lb["ACTIONS1"], lb["ACTIONS2"]} == {"actions-1:5055", "actions-2:5055"}
    assert lb["LB_HUB_BIND"] == ":8000" and lb["LB_ACTIONS_BIND"] == ":5055"
    volumes = services["lb"]["volumes"]
    source = volumes[0]["source"] if isinstance(volumes[0], dict) else volumes[0].split(":")[0]
    assert Path(ROOT / source).resolve() == HAPROXY_CFG.resolve()
    published = services["lb"]["ports"]
    targets = {str(p["target"]) if isinstance(p, dict) else p.rsplit(":", 1)[1] for p in published}
    assert "8000" in targets
    for name in services:  # only the balancer is published
        assert name == "lb" or not services[name].get("ports"), name


def test_the_balancer_config_is_valid_with_the_compose_addresses(compose: dict[str, Any]) -> None:
    require_haproxy()
    proc = subprocess.run([haproxy_bin(), "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True,
                          env={**os.environ, **env_of(compose["services"]["lb"])}, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]

    def needs(name: str) -> dict[str, str]:
        deps = services[name].get("depends_on") or {}
        return {k: v["condition"] for k, v in deps.items()} if isinstance(deps, dict) else dict.fromkeys(deps, "")

    assert needs("rasa-2") == {"rasa-1": "service_healthy"}  # the first creates the tracker tables
    assert needs("rasa-1") == {"postgres": "service_healthy", "redis": "service_healthy"}
    for name in ("actions-1", "actions-2"):
        assert needs(name) == {"init": "service_completed_successfully"}
    for name in ("hub-1", "hub-2"):
        assert needs(name)["init"] == "service_completed_successfully"
        assert needs(name)["rasa-1"] == "service_healthy"
    assert needs("init") == {"postgres": "service_healthy"}


def test_the_dockerfile_trains_from_every_model_input_and_fetches_nothing_at_run_time() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    train = text.index("RUN python -m bot.runtime train")
    copied = " ".join(line for line in text[:train].splitlines() if line.startswith("COPY"))
    for name in MODEL_INPUTS:  # the image's model hash must be the checkout's
        top = name.split("/")[0]
        assert re.search(rf"\b{re.escape(top)}\b", copied), f"{name} is not copied before training"
    assert "serve-rasa" in text.split("FROM base AS app")[1]  # the final image checks its model
    assert "USER kefu" in text
    assert not re.search(r"^\s*(ADD\s+https?:|RUN .*\b(curl|wget)\b)", text, re.M)
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in ("config.yml", "domain.yml", "credentials.yml", "data", "bot", "actions", "handoff",
                   "pyproject.toml", "README.md", "models", "deploy"):
        assert needed not in ignored, needed
        if needed != "models":  # git-ignored, optional in the build context
            assert (ROOT / needed).exists(), needed

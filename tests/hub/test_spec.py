"""The OpenAPI description against a running hub: it lists exactly the routes the app has, its
limits come from the settings, and a bounded, reproducible schemathesis run over every operation
(with a customer token and a supervisor token) gets no 5xx.

The fuzz run is sized for a busy 2-core machine (``HUB_FUZZ_EXAMPLES`` valid and as many invalid
cases per operation, fixed seed through ``derandomize``), so it is part of the normal suite. Every
answer must also be one the spec documents for that operation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import requests

from handoff.app import create_app
from handoff.openapi import build_spec
from handoff.settings import Settings
from handoff.wechat.config import WeChatSettings

from .conftest import PASSWORDS, HubProcess, RasaStandIn

hypothesis = pytest.importorskip("hypothesis")
schemathesis = pytest.importorskip("schemathesis")

FUZZ_EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "100"))
SKIPPED = {("POST", "/api/agent/logout")}  # would end the session the run uses


def _spec_path(sanic_path: str) -> str:
    """``api/x/<conversation_id:str>`` → ``/api/x/{}``; spec paths likewise (``{id}`` → ``{}``)."""
    return "/" + re.sub(r"<[^>]+>", "{}", sanic_path.lstrip("/"))


def _route_table(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(method, _spec_path(route.path)) for route in app.router.routes for method in route.methods
            if method != "HEAD"}


def _spec_table(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) for path, item in spec["paths"].items()
            for method in item}


@pytest.fixture(scope="module")
def served_spec(hub: HubProcess) -> dict:
    return requests.get(f"{hub.url}/openapi.json", timeout=10).json()


def test_every_route_is_in_the_spec_and_back(served_spec: dict, tmp_path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"), name="spec_check",
                     wechat=WeChatSettings())
    routes, described = _route_table(app), _spec_table(served_spec)
    assert routes - described == set(), "routes missing from /openapi.json"
    assert described - routes == set(), "described but not served"


def test_the_wechat_callback_is_described_when_it_is_on(tmp_path) -> None:
    cfg = WeChatSettings(token="t" * 8, appid="wx" + "0" * 16)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"), name="spec_wechat", wechat=cfg)
    assert _route_table(app) == _spec_table(build_spec(None, 2000, cfg.callback_path))


def test_message_max_length_follows_the_setting(served_spec: dict) -> None:
    def text_schema(path: str) -> dict:
        body = served_spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return body["properties"]["text"]

    for path in ("/api/conversations/{id}/messages", "/api/conversations/{id}/leave_message",
                 "/api/agent/conversations/{id}/messages"):
        assert text_schema(path)["maxLength"] == 2000
    assert build_spec(None, 300)["paths"]["/api/conversations/{id}/messages"]["post"]["requestBody"][
        "content"]["application/json"]["schema"]["properties"]["text"]["maxLength"] == 300


def test_documented_answers_include_the_refusals(served_spec: dict) -> None:
    paths = served_spec["paths"]
    assert "429" in paths["/api/conversations"]["post"]["responses"]
    assert "429" in paths["/api/conversations/{id}/typing"]["post"]["responses"]
    assert "429" in paths["/api/conversations/{id}/leave_message"]["post"]["responses"]
    for path, item in paths.items():
        for method, op in item.items():
            if path.startswith("/api/agent/") and path != "/api/agent/login":
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            if "requestBody" in op:
                assert {"400", "413"} <= set(op["responses"]), (method, path)


@pytest.fixture(scope="module")
def tokens(hub: HubProcess) -> Iterator[dict[str, str]]:
    with requests.Session() as s:
        conv = s.post(f"{hub.url}/api/conversations", json={"channel": "web"}, timeout=10).json()
        sup = s.post(f"{hub.url}/api/agent/login", timeout=10,
                     json={"username": "supervisor", "password": PASSWORDS["supervisor"], "bearer": True}).json()
    yield {"conversation_id": conv["conversation_id"], "customer": conv["token"], "agent": sup["token"]}


@pytest.mark.slow
def test_fuzz_finds_no_server_error(hub: HubProcess, rasa: RasaStandIn, tokens: dict[str, str]) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation.modes import GenerationMode

    schema = schemathesis.openapi.from_url(f"{hub.url}/openapi.json")
    failures: list[str] = []
    undocumented: set[str] = set()
    session = requests.Session()
    ran = 0

    def fuzz(operation, mode: GenerationMode):  # type: ignore[no-untyped-def]
        name = f"{operation.method.upper()} {operation.path}"
        token = tokens["customer"] if operation.path.startswith("/api/conversations/") else tokens["agent"]
        documented = operation.definition.raw.get("responses", {})

        @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal ran
            if "{id}" in operation.path and operation.path.startswith(("/api/conversations/",
                                                                       "/api/agent/conversations/")):
                case.path_parameters["id"] = tokens["conversation_id"]  # a real one: deeper than 404
            response = case.call(base_url=hub.url, session=session, timeout=15,
                                 headers={"Authorization": f"Bearer {token}"})
            ran += 1
            if str(response.status_code) not in documented:
                undocumented.add(f"{name} → {response.status_code}: {response.text[:160]}")
            if response.status_code >= 500:
                failures.append(f"{name} → {response.status_code}: {case.as_curl_command()}\n{response.text[:300]}")

        return run

    operations = [r.ok() for r in schema.get_all_operations()]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            try:
                fuzz(operation, mode)()
            except Unsatisfiable:  # no input to get wrong (negative mode of a bare GET)
                assert mode is GenerationMode.NEGATIVE, operation.path
    session.close()
    assert ran > 100
    first = {f.split(":", 1)[0]: f for f in failures}  # one example per operation and status
    assert failures == [], "\n\n".join(first.values())
    assert undocumented == set(), "answers missing from /openapi.json:\n" + "\n".join(sorted(undocumented))

"""The front ends as served: ES modules without a build step.

- every relative import between the modules points at a file that is there;
- the pure modules' unit tests (tests/js, `node --test`, no network) pass;
- the console labels exactly the codes the hub and the bot produce, no more, no fewer.

The pages themselves run in Chromium in test_browser.py (which also checks they load without
console errors).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from handoff.channels.web import WebChannel
from handoff.channels.wechat import WeChatChannel
from handoff.openapi import build_spec
from handoff.router import HANDOFF_REASONS, HUB_REASONS, MODES, PRIORITIES, SKILLS
from handoff.tickets import TICKET_STATUSES

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "handoff" / "static"
NODE = shutil.which("node")
IMPORT = re.compile(r"""(?:^|\s)(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']""", re.S)


def node() -> str:
    if NODE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed; the front-end unit tests need it")
        pytest.skip("node is not installed")
    return NODE


def modules() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*.js") if p.name != "widget.js" or p.parent != STATIC)


def test_module_imports_resolve_to_files() -> None:
    assert modules(), "no modules found"
    for path in modules():
        for found in IMPORT.finditer(path.read_text(encoding="utf-8")):
            spec = found.group(1) or found.group(2)
            assert spec.startswith("./") or spec.startswith("../"), (path, spec)  # no bare (npm) imports
            target = (path.parent / spec).resolve()
            assert STATIC.resolve() in target.parents and target.is_file(), (path, spec)


def imports_of(path: Path) -> set[Path]:
    """The files ``path`` imports, directly or through others."""
    seen: set[Path] = set()
    todo = [path.resolve()]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for found in IMPORT.finditer(current.read_text(encoding="utf-8")):
            todo.append((current.parent / (found.group(1) or found.group(2))).resolve())
    return seen


def test_pages_load_their_entry_modules() -> None:
    html = (STATIC / "console.html").read_text(encoding="utf-8")
    entries = re.findall(r'<script type="module" src="/static/([^"]+)"></script>', html)
    assert entries == ["console/main.js"]
    assert "<script src=" not in html  # no classic script left
    # the loader fetches the widget's whole module graph at once, entry first
    loader = (STATIC / "widget.js").read_text(encoding="utf-8")
    listed = re.findall(r'"((?:widget|shared)/[a-z]+\.js)"', loader.split("var MODULES = [", 1)[1].split("];", 1)[0])
    assert listed[0] == "widget/main.js"
    assert {(STATIC / p).resolve() for p in listed} == imports_of(STATIC / "widget" / "main.js")
    assert len(listed) == len(set(listed))


def test_front_end_unit_tests() -> None:
    out = subprocess.run([node(), "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    assert re.search(r"^# pass [1-9]", out.stdout, re.M), out.stdout[-2000:]


def js_export(module: str, name: str) -> Any:
    script = (f"const m = await import({json.dumps((STATIC / module).as_uri())});"
              f"console.log(JSON.stringify(m[{json.dumps(name)}]));")
    out = subprocess.run([node(), "--input-type=module", "-e", script], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


def test_console_labels_are_the_codes_the_hub_sends() -> None:
    from bot.nlu.anger import ANGRY, NEUTRAL
    from bot.orders.models import ORDER_TYPES

    labels = js_export("console/labels.js", "LABELS")
    schemas = build_spec()["components"]["schemas"]
    agent = schemas["Agent"]["properties"]
    assert set(labels["reason"]) == set(HANDOFF_REASONS + HUB_REASONS)
    assert set(labels["priority"]) == set(PRIORITIES)
    assert set(labels["skill"]) == set(SKILLS)
    assert set(js_export("console/labels.js", "TRANSFER_SKILLS")) == set(SKILLS)
    assert set(labels["mode"]) == set(MODES)
    assert set(labels["ticket"]) == set(TICKET_STATUSES)
    assert set(labels["presence"]) == set(agent["presence"]["enum"])
    assert set(labels["role"]) == set(agent["role"]["enum"])
    assert set(labels["channel"]) == {WebChannel.name, WeChatChannel.name}
    assert set(labels["emotion"]) == {ANGRY, NEUTRAL}
    assert set(labels["order_type"]) == set(ORDER_TYPES)
    assert set(labels) == {"reason", "priority", "skill", "mode", "ticket", "presence", "role", "channel",
                           "emotion", "order_type"}

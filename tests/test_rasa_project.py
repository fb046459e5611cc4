"""The Rasa project as Rasa itself sees it: clean data validation and passing test stories."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.runtime import ROOT

RASA = str(Path(sys.executable).parent / "rasa")


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


UNUSED = re.compile(r"The utterance '([^']+)' is not used in any story or rule")


def action_response_names() -> tuple[set[str], set[str]]:
    """Response names the custom actions send: exact literals, and the fixed prefixes of
    f-strings (f"utter_confirm_{op}"). Rasa's validator cannot see these."""
    literals: set[str] = set()
    prefixes: set[str] = set()
    for path in [*(ROOT / "actions").glob("*.py"), *(ROOT / "bot").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in parts:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("utter_"):
                literals.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and str(head.value).startswith("utter_"):
                    prefixes.add(head.value)
    return literals, prefixes


def all_responses() -> set[str]:
    """Domain responses and the retrieval answers kept with their training data."""
    names = set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"])
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        names |= set((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    return names


def test_every_response_an_action_sends_exists_and_is_sent():
    responses = all_responses()
    literals, prefixes = action_response_names()
    assert literals - responses == set()
    for prefix in prefixes:
        assert len(prefix) > len("utter_") and any(r.startswith(prefix) for r in responses), prefix


def test_data_validates_without_warnings():
    """Clean but for Rasa's note on responses that only custom actions send."""
    result = run_rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    literals, prefixes = action_response_names()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    form_asks = {
        f"utter_ask_{slot}" for form in domain["forms"].values() for slot in form["required_slots"]
    }
    unused = set(UNUSED.findall(output))
    # a retrieval intent's own action (utter_faq) is covered by sending its answers (utter_faq/…)
    sent_by_actions = {
        u for u in unused
        if u in literals | form_asks or any(u.startswith(p) or p.startswith(u + "/") for p in prefixes)
    }
    assert unused == sent_by_actions, unused - sent_by_actions
    warnings = [
        line for line in output.splitlines()
        if "UserWarning" in line and not UNUSED.search(line) and "duplicated intents" not in line
    ]
    assert warnings == [], output[-4000:]
    if not unused:
        assert result.returncode == 0, output[-4000:]


@pytest.mark.slow
def test_stories_pass_with_the_trained_model(trained_model: Path, tmp_path: Path):
    stories = sorted(p.name for p in (ROOT / "tests").glob("test_*stories*.yml"))
    assert stories, "no test stories in tests/"
    result = run_rasa(
        "test", "core", "--model", str(trained_model), "--stories", "tests",
        "--out", str(tmp_path), "--fail-on-prediction-errors",
    )
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:] + detail[-3000:]

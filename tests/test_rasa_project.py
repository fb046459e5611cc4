"""The Rasa project as Rasa itself sees it: clean data validation and passing test stories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime import ROOT

RASA = str(Path(sys.executable).parent / "rasa")


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_data_validates_without_warnings():
    result = run_rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
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

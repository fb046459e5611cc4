"""WeChat settings from credentials.yml and env."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.wechat.config import load

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_off_without_token() -> None:
    assert not load({}).enabled


def test_file_then_env(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.yml"
    creds.write_text(f"wechat:\n  token: t1\n  appid: wx1\n  encoding_aes_key: {KEY}\n")
    cfg = load({"WECHAT_TOKEN": "t2", "WECHAT_API_BASE": "http://127.0.0.1:9/"}, creds)
    assert (cfg.token, cfg.appid, cfg.mode, cfg.api_base) == ("t2", "wx1", "safe", "http://127.0.0.1:9")


@pytest.mark.parametrize("env", [{"WECHAT_TOKEN": "t", "WECHAT_ENCRYPT_MODE": "safe"},
                                 {"WECHAT_TOKEN": "t", "WECHAT_ENCRYPT_MODE": "weird"},
                                 {"WECHAT_TOKEN": "t", "WECHAT_REPLY_BUDGET": "6"}])
def test_bad_values_are_clear_errors(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="WECHAT_"):
        load(env)


def test_hub_reads_the_file_named_by_wechat_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handoff.wechat.config import from_environment

    hub_only = tmp_path / "credentials.hub.yml"
    hub_only.write_text("wechat:\n  token: from-file\n  callback_path: /wx/in\n  reply_budget: 2\n")
    for name in ("WECHAT_TOKEN", "WECHAT_CALLBACK_PATH", "WECHAT_REPLY_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WECHAT_CREDENTIALS", str(hub_only))
    cfg = from_environment(tmp_path / "elsewhere")
    assert (cfg.token, cfg.callback_path, cfg.reply_budget, cfg.mode) == ("from-file", "/wx/in", 2.0, "plain")


@pytest.mark.parametrize("env", [{"WECHAT_TOKEN": "t", "WECHAT_AES_KEY": KEY},  # AES without appid
                                 {"WECHAT_TOKEN": "t", "WECHAT_CALLBACK_PATH": "wechat"},
                                 {"WECHAT_TOKEN": "t", "WECHAT_API_TIMEOUT": "0"},
                                 {"WECHAT_TOKEN": "t", "WECHAT_TIMESTAMP_WINDOW": "0"},
                                 {"WECHAT_TOKEN": "t", "WECHAT_TIMESTAMP_WINDOW": "five minutes"}])
def test_more_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="WECHAT_"):
        load(env)

"""WeChat callback: response time under concurrent senders and passive-reply share.

    .venv/bin/python -m bench.wechat_load

The WeChat channel is to land at `/wechat/callback` (handoff/channels/wechat.py). Until that
module exists this benchmark writes a clean "not available" result instead of guessing its
configuration; run_all and the plots treat that as a gap, not as a failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from bench.common import REPO, write_result

CHANNEL = REPO / "handoff" / "channels" / "wechat.py"


def availability() -> tuple[bool, str]:
    """Whether the WeChat channel exists in this checkout, and why not."""
    if not CHANNEL.is_file():
        return False, f"{CHANNEL.relative_to(REPO)} does not exist in this checkout"
    return False, ("handoff/channels/wechat.py exists but this benchmark has no driver for it yet "
                   "(its token/app-id settings and reply mode were not known when it was written)")


def run() -> dict[str, Any]:
    ok, reason = availability()
    return {"available": ok, "reason": reason, "target_callback_p99_ms": 1000}


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    result = run()
    path = write_result("wechat", result)
    print(f"[wechat_load] not available: {result['reason']} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

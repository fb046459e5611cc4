"""Score a running Rasa server on an evaluation file through `POST /model/parse`.

Usage:
    .venv/bin/python bench/eval_nlu.py tests/data/nlu_test.tsv [--url http://localhost:5005]
        [--concurrency 4] [--timeout 30] [--json OUT.json] [--token-env RASA_TOKEN]

Talks to the server over HTTP (not in-process) so that what is scored is exactly what the
hub and dashboards see, including the custom `emotion` field. Exit code 2: server not
reachable or bad input file; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nlu_common import (  # noqa: E402
    EvalFileError,
    Example,
    format_report,
    load_examples,
    prediction_from_parse,
    score,
)


class ServerUnreachable(RuntimeError):
    """The Rasa server did not answer; the message says how to start it."""


def _endpoint(base_url: str, path: str, token: str | None) -> str:
    url = base_url.rstrip("/") + path
    return url + ("?" + urllib.parse.urlencode({"token": token}) if token else "")


def _safe_url(base_url: str) -> str:
    """The URL without query or credentials, for messages (tokens never reach logs)."""
    p = urllib.parse.urlsplit(base_url)
    host = p.hostname or ""
    return f"{p.scheme}://{host}{':' + str(p.port) if p.port else ''}{p.path}"


def check_server(base_url: str, timeout: float = 5.0) -> str:
    """Return the server's Rasa version or raise ServerUnreachable with a clear hint."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/version", timeout=timeout) as r:
            return str(json.loads(r.read().decode("utf-8")).get("version", "?"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServerUnreachable(
            f"Rasa server not reachable at {_safe_url(base_url)} ({exc}). Start one with "
            f"`rasa run --enable-api -m models/` (or pass --url)."
        ) from exc


def parse_text(base_url: str, text: str, token: str | None = None, timeout: float = 30.0,
               retries: int = 2) -> dict[str, Any]:
    """One `/model/parse` call, with a small bounded number of retries for transient errors."""
    body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
    url = _endpoint(base_url, "/model/parse", token)
    last: Exception | None = None
    for attempt in range(retries + 1):
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # 4xx will not get better by retrying
                hint = " (set the API token via --token-env)" if exc.code in (401, 403) else ""
                raise RuntimeError(f"/model/parse answered HTTP {exc.code}{hint}") from exc
            last = exc
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2 * (attempt + 1))
    raise ServerUnreachable(f"/model/parse at {_safe_url(base_url)} failed: {last}")


def parse_all(texts: Sequence[str], parse: Callable[[str], dict[str, Any]],
              concurrency: int = 4) -> list[dict[str, Any]]:
    """Parse texts with at most `concurrency` requests in flight; results keep input order."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(parse, texts))


def evaluate(examples: Sequence[Example], parses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return score(examples, [prediction_from_parse(p) for p in parses])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", help="evaluation TSV (text, intent, angry, entities)")
    ap.add_argument("--url", default="http://localhost:5005", help="Rasa server base URL")
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight (>=1)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    ap.add_argument("--json", dest="json_out", help="write the figures to this JSON file")
    ap.add_argument("--token-env", default="RASA_TOKEN",
                    help="environment variable holding the Rasa API token, if the server uses one")
    ap.add_argument("--quiet", action="store_true", help="print the summary only")
    args = ap.parse_args(argv)
    if args.concurrency < 1:
        ap.error("--concurrency must be >= 1")

    try:
        examples = load_examples(args.file)
    except (OSError, EvalFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env) or None
    try:
        version = check_server(args.url)
        t0 = time.perf_counter()
        parses = parse_all([ex.text for ex in examples],
                           lambda t: parse_text(args.url, t, token, args.timeout),
                           args.concurrency)
        elapsed = time.perf_counter() - t0
    except (ServerUnreachable, RuntimeError, ValueError) as exc:  # ValueError: not JSON
        print(f"error: {exc}", file=sys.stderr)
        return 2

    report = evaluate(examples, parses)
    report.update({"file": args.file, "server": _safe_url(args.url), "rasa_version": version,
                   "parse_seconds": round(elapsed, 2)})
    text = format_report(report, f"{args.file} on {_safe_url(args.url)} (Rasa {version})")
    if args.quiet:
        text = "\n".join(text.split("\n\n")[0:1])
    print(text)
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

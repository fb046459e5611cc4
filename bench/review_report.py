"""NLU figures before and after the review page's labels (data/nlu/reviewed.yml), on the
project's held-out sets.

Usage:
    make review-report                      # trains both NLU models with config.yml (~2 × 3 min)
    .venv/bin/python -m bench.review_report [--config config.yml] [--data data/nlu]
        [--domain domain.yml] [--before MODEL.tar.gz] [--after MODEL.tar.gz]
        [--test tests/data/nlu_test.tsv tests/data/heldout_test.tsv] [--json OUT.json]

"before" is an NLU model trained on data/nlu without reviewed.yml, "after" one trained with it,
both with the same config (`rasa train nlu`, bench/nlu_compare.py's cold training), then both are
scored on the test files with bench/nlu_common.py, the code of every other NLU figure here. A
model given with --before/--after is used instead of training that one (e.g. the model
`make train` made before the labels). The review data never reaches the test files: a reviewed
example whose wording is a test line stops the report (exit 2), as does a missing reviewed.yml.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nlu_common import (  # noqa: E402
    EvalFileError,
    format_side_by_side,
    load_examples,
    prediction_from_parse,
    score,
)

from handoff.teach import REVIEWED_FILE, example_texts, match_key, texts_under_test  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TESTS = ("tests/data/nlu_test.tsv", "tests/data/heldout_test.tsv")


def reviewed_texts(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [t for block in doc.get("nlu") or [] if isinstance(block, dict)
            for t in example_texts(str(block.get("examples") or ""))]


def leaks(reviewed: Sequence[str], test_files: Sequence[Path], root: Path = REPO) -> list[str]:
    """Reviewed examples whose wording is a line of a test file or of the project's test sets."""
    tests = {match_key(line.split("\t", 1)[0]) for f in test_files
             for line in f.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    tests |= {match_key(t) for t in texts_under_test(root)}
    return [t for t in reviewed if match_key(t) in tests]


def nlu_folder(data: Path, target: Path, with_reviewed: bool) -> Path:
    target.mkdir(parents=True)
    for path in sorted(data.glob("*.yml")):
        if with_reviewed or path.name != REVIEWED_FILE:
            shutil.copy(path, target / path.name)
    return target


def model_for(name: str, given: str | None, args: argparse.Namespace, work: Path) -> str:
    if given:
        return given
    from nlu_compare import train

    folder = nlu_folder(Path(args.data), work / f"nlu-{name}", with_reviewed=name == "after")
    print(f"[review-report] training the {name} model ({args.config}) …", flush=True)
    result = train(Path(args.config).resolve(), folder, Path(args.domain).resolve(), work, name)
    if not result["ok"]:
        raise RuntimeError(f"training {name} failed:\n{result['error']}")
    print(f"[review-report] {name}: trained in {result['train_seconds']} s", flush=True)
    return str(result["model"])


def run(args: argparse.Namespace) -> int:
    data = Path(args.data)
    reviewed = data / REVIEWED_FILE
    if not reviewed.exists():
        print(f"{reviewed} does not exist: nothing has been labelled on the review page (学习) yet.")
        return 2
    tests = [Path(t) for t in args.test]
    texts = reviewed_texts(reviewed)
    leaked = leaks(texts, tests)
    if leaked:
        print("reviewed.yml holds lines of the test sets; remove them first (review data must never be "
              "tested on):\n  " + "\n  ".join(leaked))
        return 2
    try:
        examples = {str(t): load_examples(t) for t in tests}
    except (OSError, EvalFileError) as exc:
        print(f"bad test file: {exc}")
        return 2
    from nlu_compare import parse_with_model

    work = Path(tempfile.mkdtemp(prefix="review-report-"))
    try:
        models = {name: model_for(name, given, args, work)
                  for name, given in (("before", args.before), ("after", args.after))}
        out: dict[str, Any] = {"reviewed_examples": len(texts), "config": args.config, "files": {}}
        print(f"\nreviewed.yml: {len(texts)} examples; before = without them, after = with them\n")
        for name, exs in examples.items():
            reports = {}
            for label, model in models.items():
                parses = parse_with_model(model, [e.text for e in exs])
                reports[label] = score(exs, [prediction_from_parse(p) for p in parses])
            out["files"][name] = {label: {k: r[k] for k in ("n", "intent_accuracy", "macro_f1", "oos_recall",
                                                            "in_scope_rejected_rate", "fallback_rate")}
                                  for label, r in reports.items()}
            print(f"{name}\n{format_side_by_side(reports)}\n")
        if args.json:
            Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="config.yml")
    ap.add_argument("--data", default="data/nlu", help="the NLU data folder holding reviewed.yml")
    ap.add_argument("--domain", default="domain.yml")
    ap.add_argument("--before", help="a trained model to use as 'before' instead of training one")
    ap.add_argument("--after", help="a trained model to use as 'after' instead of training one")
    ap.add_argument("--test", nargs="+", default=list(DEFAULT_TESTS))
    ap.add_argument("--json", help="also write the figures to this JSON file")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The model cache key: what changes a trained model retrains, what does not reuses it."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.runtime import MODEL_INPUTS, ROOT, model_hash


def copy_inputs(tmp_path: Path) -> Path:
    for name in MODEL_INPUTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, tmp_path / name)
    return tmp_path


def test_same_inputs_same_key(tmp_path: Path) -> None:
    assert model_hash(copy_inputs(tmp_path)) == model_hash(ROOT)


def test_a_yaml_comment_retrains_nothing(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    before = model_hash(root)
    config = root / "config.yml"
    config.write_text("# tuned on the dev set\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    assert model_hash(root) == before


def test_training_data_and_settings_retrain(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    before = model_hash(root)
    config = root / "config.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("epochs: 60", "epochs: 59", 1), encoding="utf-8")
    after_config = model_hash(root)
    assert after_config != before
    nlu = root / "data" / "nlu" / "chitchat.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8").replace("examples: |\n", "examples: |\n    - 在吗在吗\n", 1), encoding="utf-8")
    assert model_hash(root) not in (before, after_config)


def test_component_code_retrains(tmp_path: Path) -> None:
    root = copy_inputs(tmp_path)
    before = model_hash(root)
    with open(root / "bot" / "nlu" / "normalizer.py", "a", encoding="utf-8") as handle:
        handle.write("\n# a comment in code is a change: the cache key does not parse Python\n")
    assert model_hash(root) != before

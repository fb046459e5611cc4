"""Reproducible training: the environment `rasa train` gets, the seeds in config.yml, and
the order in which Rasa reads the files of a data directory."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bot.runtime import ROOT, training_env

SEEDED = ("DIETClassifier", "ResponseSelector", "TEDPolicy")


def test_training_env_fixes_hashing_and_tensorflow_kernels() -> None:
    env = training_env({"PATH": "/bin", "PYTHONHASHSEED": "random"})
    assert env["PYTHONHASHSEED"] == "0"
    assert env["TF_DETERMINISTIC_OPS"] == "1"
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2"  # an AVX-512 machine trains what an AVX2 one does
    assert env["PATH"] == "/bin"


def test_every_trained_neural_component_has_a_fixed_seed() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    components = config["pipeline"] + config["policies"]
    for name in SEEDED:
        found = [c for c in components if c["name"] == name]
        assert found, f"{name} not in config.yml"
        assert all(isinstance(c.get("random_seed"), int) for c in found), name


def test_data_files_are_read_in_sorted_order_whatever_the_filesystem_says(tmp_path: Path) -> None:
    from rasa.shared.data import get_data_files, is_nlu_file

    folder = tmp_path / "data" / "nlu"
    folder.mkdir(parents=True)
    for name in ("b.yml", "c.yml", "a.yml"):  # created out of order
        (folder / name).write_text('version: "3.1"\nnlu:\n- intent: x\n  examples: |\n    - hi\n',
                                   encoding="utf-8")
    (tmp_path / "data" / "0.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: y\n  examples: |\n    - yo\n', encoding="utf-8")
    files = get_data_files([str(tmp_path / "data")], is_nlu_file)
    assert [os.path.relpath(f, tmp_path) for f in files] == [
        "data/0.yml", "data/nlu/a.yml", "data/nlu/b.yml", "data/nlu/c.yml"]

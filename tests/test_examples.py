"""Every script in examples/ runs in its quick mode and writes its figure."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))
NEEDS = {"small_sweep.py": ["pandas"], "tune_lr_gridsearch.py": ["sklearn"]}


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"train_one_run.py", "edge_of_stability.py", "small_sweep.py",
                                          "tune_lr_gridsearch.py"}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_in_quick_mode(script, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    for module in NEEDS.get(script.name, []):
        pytest.importorskip(module)
    monkeypatch.setattr(sys, "argv", [str(script), "--quick", "--out", str(tmp_path)])
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="__main__")
    figure = tmp_path / (script.stem + ".png")
    assert figure.exists() and figure.stat().st_size > 10_000
    assert f"wrote {figure}" in capsys.readouterr().out
    import matplotlib.pyplot as plt
    plt.close("all")

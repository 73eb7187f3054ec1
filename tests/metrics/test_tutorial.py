"""The numbers printed in the evaluation tutorial come from running its example."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tutorial_table_is_what_the_example_prints(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "evaluate_own_maps", ROOT / "examples" / "evaluate_own_maps.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--out", str(tmp_path)])
    printed = capsys.readouterr().out
    rows = re.compile(r"^\s*(\| (?:model|centre|motion) \|.*\|)\s*$", re.MULTILINE)
    text = (ROOT / "docs" / "tutorials" / "evaluate_saliency_maps.rst").read_text()
    documented = rows.findall(text)
    assert len(documented) == 3
    assert rows.findall(printed) == documented

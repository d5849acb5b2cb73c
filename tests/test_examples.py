"""The examples run (at a reduced size)."""

import pathlib
import runpy
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def test_demo_prints_its_table(monkeypatch, capsys):
    """examples/demo.py prints one row per model with finite test errors."""
    monkeypatch.setattr(sys, "argv", ["demo.py", "--n-hidden", "50", "--epochs", "5",
                                      "--n-samples", "200"])
    runpy.run_path(str(EXAMPLES / "demo.py"), run_name="__main__")
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("2layer")]
    assert len(rows) == 3
    assert all(float(row.split()[-4]) >= 0 for row in rows)

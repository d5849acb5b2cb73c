"""The [LL] / [CCZG] / lazy-vs-rich examples run in --quick mode, print finite tables and
write PNGs."""

import math
import pathlib
import re
import runpy
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"-?(?:\d+\.\d*|\d+|inf|nan)"


def _run(monkeypatch, capsys, script, tmp_path):
    png = tmp_path / "out" / f"{script}.png"
    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--quick", "--output", str(png)])
    runpy.run_path(str(EXAMPLES / f"{script}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert png.is_file() and png.stat().st_size > 1000, png
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure written to {png}" in out
    return out


def _blocks(out):
    """Blank-line separated blocks of the output, as lists of lines."""
    return [block.strip("\n").splitlines() for block in out.split("\n\n") if block.strip()]


# ----------------------------------------------------------------- [LL] Figure 1
LL_COLUMNS = ["m", "test_acc", "act_change", "rel_distance", "s20/s21(W-W0)", "s20/s21(W)",
              "erank(W-W0)", "erank(W)", "time_s"]


def _ll_tables(out):
    """``{"mixture" | "digits": {m: [values]}}``: the tables under their ``(name)`` title."""
    tables = {}
    for lines in _blocks(out):
        if len(lines) >= 3 and lines[1].split() == LL_COLUMNS:
            name = re.match(r"\((\w+)\)", lines[0]).group(1)
            rows = {}
            for line in lines[2:]:
                cells = line.split()
                # a cell is a number, or mean+-std over seeds
                values = [float(c.split("+-")[0]) for c in cells[1:]]
                assert all(re.fullmatch(rf"{NUMBER}(\+-{NUMBER})?", c) for c in cells[1:]), line
                rows[int(cells[0])] = values
            tables[name] = rows
    return tables


def test_ll_figure1_quick_mode(monkeypatch, capsys, tmp_path):
    """Both data sets: one row per width, finite numbers in their ranges; the step-size
    sweep on digits is printed with the chosen constant."""
    out = _run(monkeypatch, capsys, "plot_ll_figure1", tmp_path)
    tables = _ll_tables(out)
    assert list(tables) == ["mixture", "digits"], out
    for name, rows in tables.items():
        assert list(rows) == [64, 128], (name, rows)
        for m, (acc, change, dist, gap_u, gap_w, rank_u, rank_w, secs) in rows.items():
            values = (acc, change, dist, gap_u, gap_w, rank_u, rank_w, secs)
            assert all(math.isfinite(v) for v in values), (name, m, values)
            assert 0 <= acc <= 1 and 0 < change < 1 and dist > 0, (name, m, values)
            assert gap_u >= 1 and gap_w >= 1 and rank_u >= 1 and rank_w >= 1
            assert secs >= 0
    # the mixture is learned perfectly at this size, and wider is lazier
    mixture = tables["mixture"]
    assert mixture[64][0] == mixture[128][0] == 1.0
    assert mixture[128][1] < mixture[64][1] and mixture[128][2] < mixture[64][2]
    sweep = re.search(r"\(digits\) step-size sweep at m=128.*-> c=(\d+)", out)
    assert sweep and f"eta={sweep.group(1)}/m" in out


# --------------------------------------------------------------- [CCZG] min width
def _width_tables(out):
    """``{title: {curve: [int or ">cap"]}}`` of the minimum-width tables."""
    tables = {}
    for lines in _blocks(out):
        if len(lines) >= 3 and lines[0].endswith("min width for zero training error"):
            header = lines[1].split()
            assert header[0] == "n", lines
            rows = {}
            for line in lines[2:]:
                if line.startswith("seconds:"):
                    seconds = re.findall(rf"({NUMBER})(?:,|$)", line)
                    assert seconds and all(math.isfinite(float(s)) for s in seconds), line
                    continue
                name, cells = re.fullmatch(r"(.+?)((?:\s+>?\d+)+)", line).groups()
                rows[name.strip()] = [c if c.startswith(">") else int(c)
                                      for c in cells.split()]
                assert len(rows[name.strip()]) == len(header) - 1, line
            tables[lines[0]] = ([int(n) for n in header[1:]], rows)
    return tables


def test_cczg_min_width_quick_mode(monkeypatch, capsys, tmp_path):
    """Two panels, structured and random labels: widths from the grid or ">cap"."""
    out = _run(monkeypatch, capsys, "plot_cczg_min_width", tmp_path)
    tables = _width_tables(out)
    assert len(tables) == 2, out
    (title_a, (sizes_a, rows_a)), (title_b, (sizes_b, rows_b)) = tables.items()
    assert title_a.startswith("(a) cluster data") and title_b.startswith("(b) digits")
    assert sizes_a == sizes_b == [50, 100]
    assert list(rows_a) == ["cluster labels", "random labels"]
    assert list(rows_b) == ["odd/even labels", "random labels"]
    for rows in (rows_a, rows_b):
        for name, cells in rows.items():
            for cell in cells:
                # quick grid {8, 16}; random labels are capped at 16
                assert cell in (8, 16) or (name == "random labels" and cell == ">16"), rows
    # the cluster labels are fitted at the smallest width
    assert rows_a["cluster labels"] == [8, 8]


# -------------------------------------------------------------------- lazy vs rich
LEARNERS = ("[LL] classifier", "[AZLL] 2-layer regressor")


def _scaling_tables(out):
    """``{title: {learner: ([values per width], slope)}}`` of the width-scaling tables."""
    tables = {}
    for lines in _blocks(out):
        if len(lines) >= 3 and lines[1].split()[0] == "m" and lines[1].split()[-1] == "slope":
            assert [int(v) for v in lines[1].split()[1:-1]] == [32, 64, 128], lines
            rows = {}
            for line in lines[2:]:
                name, cells = re.fullmatch(rf"(.+?)((?:\s+{NUMBER})+)", line).groups()
                values = [float(v) for v in cells.split()]
                rows[name.strip()] = (values[:-1], values[-1])
            tables[lines[0]] = rows
    return tables


def test_lazy_vs_rich_quick_mode(monkeypatch, capsys, tmp_path):
    """Three measures x two learners: positive finite values and finite slopes; the [LL]
    learner's measures shrink with the width."""
    out = _run(monkeypatch, capsys, "plot_lazy_vs_rich", tmp_path)
    tables = _scaling_tables(out)
    titles = list(tables)
    assert len(titles) == 3, out
    assert [t[:3] for t in titles] == ["(a)", "(b)", "(c)"]
    for title, rows in tables.items():
        assert tuple(rows) == LEARNERS, (title, rows)
        for name, (values, slope) in rows.items():
            assert len(values) == 3 and all(math.isfinite(v) and v > 0 for v in values)
            assert math.isfinite(slope), (title, name)
        # the printed slope is the least-squares slope of the printed values
        for values, slope in rows.values():
            logs = [math.log(v) for v in values]
            xs = [math.log(m) for m in (32, 64, 128)]
            mx, my = sum(xs) / 3, sum(logs) / 3
            fit = (sum((x - mx) * (y - my) for x, y in zip(xs, logs))
                   / sum((x - mx) ** 2 for x in xs))
            assert slope == pytest.approx(fit, abs=2e-3), title
        assert rows[LEARNERS[0]][1] < 0, (title, rows)
    summary = re.findall(r"^  (\[.+?\] [^:]+): (.+)$", out, flags=re.M)
    slopes = {name: dict(re.findall(rf"(\w+) ({NUMBER})", rest)) for name, rest in summary
              if "slope" not in rest and "m=" not in rest}
    assert set(slopes) == set(LEARNERS)
    for name in LEARNERS:
        assert set(slopes[name]) == {"relative_distance_0", "activation_change_0", "ntk_drift"}

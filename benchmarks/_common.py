"""Helpers shared by the benchmark scripts: thread pinning, timing, round-robin, tables.

The benchmark protocol of the README: the machine is shared and drifts, so every
claim is a ratio between methods measured in one run, round-robin over repeats, reported as
the median with its spread (min-max). Nothing here imports the library.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_LIMITERS: list[Any] = []  # keeps the threadpoolctl limit alive for the process


def pin_threads(n_threads: int, preload: Iterable[str] = ()) -> int:
    """Pin torch (intra-op; inter-op to 1) and every BLAS/OpenMP pool to ``n_threads``.

    threadpoolctl only limits the native libraries already loaded, so the modules named in
    ``preload`` (e.g. ``"sklearn.neural_network"``, ``"scipy.linalg"``) are imported first.
    The limit stays for the whole process (numpy/scipy BLAS and torch's OpenMP alike).
    Returns the count.
    """
    n_threads = int(n_threads)
    if n_threads < 1:
        raise ValueError(f"`n_threads` must be >= 1; got {n_threads}.")
    import importlib

    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        import torch
    except ImportError:  # pragma: no cover - all benchmarks here need torch
        torch = None
    if torch is not None:
        torch.set_num_threads(n_threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work already started
            pass
    from threadpoolctl import threadpool_limits

    _LIMITERS.append(threadpool_limits(limits=n_threads))
    return n_threads


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info(n_threads: int | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Lines describing the machine, the versions and the thread settings of this run."""
    lines = [f"- python {platform.python_version()} on {platform.system()} {platform.machine()}"]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        affinity = os.cpu_count()
    lines.append(f"- CPU: {_cpu_model()}; os.cpu_count() = {os.cpu_count()}, "
                 f"usable by this process = {affinity}")
    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        lines.append(f"- load average at start (1, 5, 15 min): {load}")
    except OSError:  # pragma: no cover
        pass
    versions = []
    for mod in ("numpy", "scipy", "torch", "sklearn", "skorch"):
        module = sys.modules.get(mod)
        if module is None:
            try:
                module = __import__(mod)
            except ImportError:
                continue
        versions.append(f"{mod} {getattr(module, '__version__', '?')}")
    lines.append("- versions: " + ", ".join(versions))
    torch = sys.modules.get("torch")
    if torch is not None:
        lines.append(
            f"- torch threads: intra-op {torch.get_num_threads()}, inter-op "
            f"{torch.get_num_interop_threads()}"
            + (f" (pinned with --threads {n_threads})" if n_threads is not None else "")
        )
    try:
        from threadpoolctl import threadpool_info

        pools = [
            f"{p.get('internal_api')} ({os.path.basename(p.get('filepath', '?'))})"
            f"={p.get('num_threads')}"
            for p in threadpool_info()
        ]
        lines.append("- threadpoolctl pools: " + (", ".join(pools) or "none"))
    except ImportError:  # pragma: no cover
        pass
    lines.extend(extra)
    return lines


def _busy_cpu_seconds() -> float | None:
    """CPU-seconds the whole machine has spent busy (incl. VM steal), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def other_load(seconds: float = 0.5) -> float:
    """Cores kept busy by *other* processes over the next ``seconds`` (NaN if unknown)."""
    busy0, self0, t0 = _busy_cpu_seconds(), _self_cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    busy1, self1, t1 = _busy_cpu_seconds(), _self_cpu_seconds(), time.perf_counter()
    if busy0 is None or busy1 is None:
        return float("nan")
    return max(0.0, ((busy1 - busy0) - (self1 - self0)) / (t1 - t0))


def wait_for_idle(max_wait: float, threshold: float = 0.5, window: float = 0.5) -> float:
    """Wait up to ``max_wait`` seconds until other processes use < ``threshold`` cores.

    Returns the last load seen (the wait cannot be guaranteed on a shared machine).
    """
    load, waited = float("nan"), 0.0
    while waited < max_wait:
        load = other_load(window)
        waited += window
        if not load >= threshold:  # also stops when the load is unknown (NaN)
            break
    return load


@dataclass
class Measurement:
    """One timed run: wall seconds, anything else to keep, and the cores other processes
    kept busy meanwhile (``other_load``, from /proc/stat minus this process; coarse, 10 ms
    ticks)."""

    seconds: float
    payload: Any = None
    other_load: float = float("nan")
    cpu_seconds: float = float("nan")  # CPU time of this process meanwhile (all threads)


def timed(fn: Callable[[], Any]) -> Measurement:
    """Run ``fn`` once with a fresh garbage collection before, timing it with perf_counter.

    Also records this process's CPU time over the call (``time.process_time``): with one
    thread it is the wall time minus the time the scheduler gave the core to other
    processes, a contention-free companion of the wall time on a busy machine.
    """
    gc.collect()
    busy0, self0 = _busy_cpu_seconds(), _self_cpu_seconds()
    cpu0 = time.process_time()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    busy1, self1 = _busy_cpu_seconds(), _self_cpu_seconds()
    load = float("nan")
    if busy0 is not None and busy1 is not None and seconds > 0:
        load = max(0.0, ((busy1 - busy0) - (self1 - self0)) / seconds)
    return Measurement(seconds, out, load, cpu)


@dataclass
class Cell:
    """One (method, size) combination: ``run()`` returns a :class:`Measurement`."""

    key: tuple
    run: Callable[[], Measurement]
    warmup: Callable[[], Any] | None = None


@dataclass
class Results:
    """Measurements per cell key, in the order of the repeats."""

    measurements: dict[tuple, list[Measurement]] = field(default_factory=dict)

    def seconds(self, key) -> list[float]:
        return [m.seconds for m in self.measurements.get(key, [])]

    def payloads(self, key) -> list[Any]:
        return [m.payload for m in self.measurements.get(key, [])]

    def other_loads(self, key) -> list[float]:
        return [m.other_load for m in self.measurements.get(key, [])]

    def cpu_seconds(self, key) -> list[float]:
        return [m.cpu_seconds for m in self.measurements.get(key, [])]


def round_robin(
    cells: Sequence[Cell],
    repeats: int,
    *,
    log: Callable[[str], None] | None = None,
    describe: Callable[[Cell, Measurement], str] | None = None,
    wait_idle: float = 0.0,
) -> Results:
    """Warm every cell up once, then run ``for rep in repeats: for cell in cells``.

    Cells keep their order inside a repeat, so slow drifts of the machine hit every method
    alike; compare medians over the repeats. With ``wait_idle > 0`` each timed cell first
    waits up to that many seconds for the other processes to go below half a core.
    """
    log = log or (lambda msg: None)
    for cell in cells:
        if cell.warmup is not None:
            start = time.perf_counter()
            cell.warmup()
            log(f"warm-up {cell.key}: {time.perf_counter() - start:.2f} s")
    results = Results()
    for rep in range(repeats):
        for cell in cells:
            if wait_idle > 0:
                wait_for_idle(wait_idle)
            m = cell.run()
            results.measurements.setdefault(cell.key, []).append(m)
            text = describe(cell, m) if describe else f"{m.seconds:.3f} s"
            text += f" (other processes: {m.other_load:.2f} cores)"
            log(f"[repeat {rep + 1}/{repeats}] {cell.key}: {text}")
    return results


def matmul_rate(shapes: Iterable[int | tuple[int, int, int]] = (1536, 2048, 2560),
                repeats: int = 5) -> float:
    """Best float32 matmul rate of torch on this thread setting, in GFLOP/s.

    The measurement of ``bench_kernels.py`` (best of ``repeats`` timed ``torch.mm`` calls
    per size after one untimed call, ``2 a b c`` FLOPs each, seeded inputs). A shape is
    ``n`` (square ``n x n`` times ``n x n``) or ``(a, b, c)`` for ``(a x b) @ (b x c)``.
    The best call, not the median: on a shared machine it is the closest to the rate of an
    uncontended core. Call it after :func:`pin_threads`.
    """
    import torch

    best = 0.0
    for shape in shapes:
        a, b, c = (shape, shape, shape) if isinstance(shape, int) else shape
        gen = torch.Generator().manual_seed(a * 7919 + b * 31 + c)
        left = torch.randn(a, b, generator=gen)
        right = torch.randn(b, c, generator=gen)
        out = torch.empty(a, c)
        torch.mm(left, right, out=out)
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(left, right, out=out)
            best = max(best, 2 * a * b * c / (time.perf_counter() - t0) / 1e9)
    return best


def median_spread(values: Sequence[float]) -> tuple[float, float, float]:
    """``(median, min, max)`` of the values (NaNs when empty)."""
    if not values:
        nan = float("nan")
        return nan, nan, nan
    return statistics.median(values), min(values), max(values)


def fmt_num(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, never in exponent form for 1e-3..1e6."""
    if x != x:  # NaN
        return "-"
    if x == 0:
        return "0"
    mag = abs(x)
    if 1e-3 <= mag < 1e6:
        decimals = max(0, digits - 1 - int(f"{mag:e}".split("e")[1]))
        return f"{x:.{decimals}f}"
    return f"{x:.{digits - 1}e}"


def fmt_ratio(x: float) -> str:
    return "-" if x != x else f"{x:.2f}x"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table with padded columns."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "| " + " | ".join("-" * w for w in widths) + " |"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def stderr_log(message: str) -> None:
    """Progress line to stderr (stdout holds the report)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

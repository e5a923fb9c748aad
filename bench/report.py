"""The benchmark's Markdown: every figure per target, then the targets with verdicts (issue 6's,
made stricter by issue 20: proxyd as users run it measured against the bare passthrough)."""

from __future__ import annotations

import math
from collections.abc import Callable

Results = dict[str, dict[str, float]]


ROWS: list[tuple[str, str | tuple[str, ...], int]] = [
    ("start to ready (s)", "startup_s", 3),
    ("idle RSS (MB)", "idle_rss_mb", 1),
    ("non-streaming c=1: p50 / p99 (ms)", ("c1_p50_ms", "c1_p99_ms"), 3),
    ("non-streaming c=1, a 100 KB agent body: p50 (ms)", "big_c1_p50_ms", 3),
    ("non-streaming c=16: requests/s", "c16_rps", 0),
    ("non-streaming c=16: p50 / p99 (ms)", ("c16_p50_ms", "c16_p99_ms"), 2),
    ("non-streaming c=64: requests/s", "c64_rps", 0),
    ("non-streaming c=64: p50 / p99 (ms)", ("c64_p50_ms", "c64_p99_ms"), 2),
    ("proxy CPU per request at c=64 (µs)", "c64_cpu_us", 0),
    ("non-streaming c=256: requests/s", "c256_rps", 0),
    ("non-streaming c=256: p50 / p99 (ms)", ("c256_p50_ms", "c256_p99_ms"), 2),
    ("stream: time to first byte (ms)", "stream_ttfb_ms", 3),
    ("stream: time to first content (ms)", "stream_first_content_ms", 3),
    ("stream: mean chunk delay, mock to client (ms)", "stream_chunk_delay_ms", 3),
    ("streams/s (20 chunks, no pauses, c=16)", "stream_per_s", 0),
    ("proxy CPU per stream (µs)", "stream_cpu_us", 0),
    ("translated Responses stream: first byte (ms)", "translated_ttfb_ms", 3),
    ("translated Responses stream: first content (ms)", "translated_first_content_ms", 3),
    ("translated Responses streams/s (c=16)", "translated_per_s", 0),
    ("proxy CPU per translated stream (µs)", "translated_cpu_us", 0),
    ("translated Anthropic stream: first content (ms)", "anthropic_first_content_ms", 3),
    ("translated Anthropic streams/s (c=16)", "anthropic_per_s", 0),
    ("proxy CPU per translated Anthropic stream (µs)", "anthropic_cpu_us", 0),
    ("CPU per request at c=16 via a plain alias (µs)", "alias_cpu_us", 0),
    ("CPU per request at c=16 via a model group of three, first healthy (µs)", "group_cpu_us", 0),
    ("CPU per request at c=16 via the model id itself, a control (µs)", "model_cpu_us", 0),
    (
        "tool-call stream (20 chunks): CPU per stream, not checked / checked / repair on (µs)",
        ("tools_off_cpu_us", "tools_checked_cpu_us", "tools_repair_cpu_us"),
        0,
    ),
    (
        "tool-call stream: chunk delay, not checked / checked / repair on (ms)",
        ("tools_off_chunk_delay_ms", "tools_checked_chunk_delay_ms", "tools_repair_chunk_delay_ms"),
        3,
    ),
    ("answers that failed (not a 200, malformed or cut)", "failed", 0),
    ("peak RSS (MB)", "peak_rss_mb", 1),
    ("RSS with the slow streams open (MB)", "open_streams_rss_mb", 1),
]


def _num(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _cell(result: dict[str, float], key: str | tuple[str, ...], digits: int) -> str:
    if isinstance(key, tuple):
        return " / ".join(_num(result.get(k), digits) for k in key)
    return _num(result.get(key), digits)


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None and not math.isnan(a) and not math.isnan(b) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(r: Results) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, met) for each target the results can judge."""
    p, x, lite = r.get("passthrough", {}), r.get("proxyd", {}), r.get("litellm")
    get: Callable[[dict[str, float], str], float | None] = lambda m, k: m.get(k)  # noqa: E731
    rows: list[tuple[str, str, str, bool | None]] = []

    def add(name: str, goal: str, value: float | None, met: bool | None, shown: str) -> None:
        rows.append((name, goal, shown if value is not None else "-", met if value is not None else None))

    added = _minus(get(x, "c1_p50_ms"), get(p, "c1_p50_ms"))
    add("added latency c=1 p50, minus the passthrough's", "≤ 0.10 ms", added, added is not None and added <= 0.10,
        f"{_num(added, 3)} ms")  # fmt: skip
    big = _minus(get(x, "big_c1_p50_ms"), get(p, "big_c1_p50_ms"))
    times = _ratio(big, added) if added is not None and added > 0 else None  # no ratio to a gap within the noise
    add("a 100 KB agent body: added latency vs a small body's", "≤ 2x", big, None if times is None else times <= 2,
        f"{_num(big, 3)} ms vs {_num(added, 3)} ms ({_num(times, 2)}x)")  # fmt: skip
    thr = _ratio(get(x, "c64_rps"), get(p, "c64_rps"))
    add("throughput c=64 vs plain passthrough", "≥ 0.8x", thr, thr is not None and thr >= 0.8, f"{_num(thr, 2)}x")
    if lite:
        vs = _ratio(get(x, "c64_rps"), lite.get("c64_rps"))
        add("throughput c=64 vs LiteLLM", "≥ 25x", vs, vs is not None and vs >= 25, f"{_num(vs, 1)}x")
    chunk = _minus(get(x, "stream_chunk_delay_ms"), get(p, "stream_chunk_delay_ms"))
    add("per-chunk added delay, minus the passthrough's", "≤ 0.03 ms", chunk, chunk is not None and chunk <= 0.03,
        f"{_num(chunk, 3)} ms")  # fmt: skip
    stream = _ratio(get(x, "stream_cpu_us"), get(p, "stream_cpu_us"))
    add("CPU per stream vs passthrough", "≤ 1.3x", stream, stream is not None and stream <= 1.3, f"{_num(stream, 2)}x")
    cpu = _ratio(get(x, "translated_cpu_us"), get(x, "stream_cpu_us"))
    add("CPU, translated vs untranslated stream", "≤ 1.4x", cpu, cpu is not None and cpu <= 1.4, f"{_num(cpu, 2)}x")
    claude = _ratio(get(x, "anthropic_cpu_us"), get(x, "stream_cpu_us"))
    add("CPU, translated Anthropic vs untranslated stream", "≤ 1.5x", claude, claude is not None and claude <= 1.5,
        f"{_num(claude, 2)}x")  # fmt: skip
    control = _ratio(get(x, "model_cpu_us"), get(x, "alias_cpu_us"))
    add("control: model id (less work) vs plain alias", "the noise", control, None, f"{_num(control, 2)}x")
    group = _ratio(get(x, "group_cpu_us"), get(x, "alias_cpu_us"))
    add("CPU per request, model group (first healthy) vs plain alias", "≤ 1.1x (noise)", group,
        group is not None and group <= 1.1, f"{_num(group, 2)}x")  # fmt: skip
    for chunks in (20, 200):
        per = get(x, f"tools_per_chunk_{chunks}_us")
        add(f"checking tool calls: CPU per chunk, {chunks}-chunk stream (in-process)", "≤ 0.02 ms", per,
            per is not None and per <= 20, f"{_num(per and per / 1000, 4)} ms")  # fmt: skip
    none = get(x, "tools_none_us")
    add("a request without tools: what finding none costs", "≈ 0", none, None, f"{_num(none, 3)} µs")
    delay = None
    if get(x, "tools_checked_chunk_delay_ms") is not None and get(x, "tools_off_chunk_delay_ms") is not None:
        delay = x["tools_checked_chunk_delay_ms"] - x["tools_off_chunk_delay_ms"]
    add("checking tool calls: chunk delay, checked minus not (end to end)", "the noise", delay, None,
        f"{_num(delay, 4)} ms")  # fmt: skip
    idle = get(x, "idle_rss_mb")
    add("idle RSS", "≤ 60 MB", idle, idle is not None and idle <= 60, f"{_num(idle, 1)} MB")
    held = get(x, "open_streams_rss_mb")
    add("RSS with the slow streams open", "≤ 200 MB (1,000 streams)", held, held is not None and held <= 200,
        f"{_num(held, 1)} MB")  # fmt: skip
    ready = get(x, "startup_s")
    add("start to ready", "≤ 0.5 s", ready, ready is not None and ready <= 0.5, f"{_num(ready, 3)} s")
    for c in (64, 256):
        two = _ratio(r.get("proxyd x2", {}).get(f"c{c}_rps"), get(x, f"c{c}_rps"))
        add(f"throughput c={c}, 2 workers vs 1", "≥ 1.3x", two, two is not None and two >= 1.3, f"{_num(two, 2)}x")
    return rows


def render(results: Results, *, quick: bool) -> str:
    names = list(results)
    lines = ["| figure | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for label, key, digits in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(results[n], key, digits) for n in names) + " |")
    lines += ["", "| target | goal | measured | met |", "| --- | --- | ---: | :---: |"]
    for name, goal, shown, met in targets(results):
        mark = "-" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {goal} | {shown} | {mark} |")
    if quick:
        lines += ["", "Quick mode: a handful of requests each. These numbers only show that the benchmark runs."]
    return "\n".join(lines) + "\n"

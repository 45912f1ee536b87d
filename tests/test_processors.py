"""Every example in processors/ runs through the real `streamrt run` and its output is checked.

The expected outputs are computed here in plain Python from the same data files (an independent oracle), so a
change to an example or its data is checked, not just replayed. A new example without an oracle fails
``test_every_example_has_an_oracle``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from streamrt.lang.script import load_script
from streamrt.testing import provider_machine

ROOT = Path(__file__).resolve().parent.parent
PROCESSORS = ROOT / "processors"
STREAMRT = Path(sys.executable).with_name("streamrt")


def _weather_records() -> list[dict[str, Any]]:
    lines = (PROCESSORS / "data" / "weather.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _round2(x: float) -> float:
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def expect_count_chunks() -> tuple[str, list[Any]]:
    for count, seq in enumerate(range(1, 6), start=1):  # mock:weather?count=5: one chunk per seq
        if seq == 3:
            return "counter", [{"final-count": count}]
    raise AssertionError("the mock source never reached seq 3")


def expect_weather() -> tuple[str, list[Any]]:
    stats: dict[str, dict[str, float]] = {}
    outputs: list[Any] = []

    def summary(city: str) -> dict[str, Any]:
        s = stats[city]
        return {"city": city, "count": s["count"], "mean": _round2(s["sum"] / s["count"]), "max": s["max"]}

    for rec in _weather_records():
        city, temp = rec.get("city"), rec.get("temp")
        if not (isinstance(city, str) and _is_number(temp)):
            continue
        s = stats.setdefault(city, {"count": 0, "sum": 0, "max": temp})
        s["count"] += 1
        s["sum"] += temp
        s["max"] = max(s["max"], temp)
        if s["count"] % 5 == 0:
            outputs.append(summary(city))
    outputs.extend(summary(city) for city in sorted(stats))
    return "weather", outputs


def expect_threshold_alert() -> tuple[str, list[Any]]:
    for line, rec in enumerate(_weather_records(), start=1):
        temp = rec.get("temp")
        if _is_number(temp) and temp > 35.0:
            return "heat-alert", [
                {
                    "alert": "temperature above threshold",
                    "city": rec["city"],
                    "temp": temp,
                    "line": line,
                    "readings-before": line - 1,
                }
            ]
    return "heat-alert", []


def expect_sensor_windows() -> tuple[str, list[Any]]:
    """Per-sensor one-minute tumbling means over event time: a window closes once the latest ``ts`` seen reaches its
    end + 10 s; a reading for a closed window comes out on the side; the end closes the rest (by end, then age)."""
    size, lateness = 60000, 10000
    lines = (PROCESSORS / "data" / "sensors.jsonl").read_text().splitlines()
    windows: dict[tuple[str, int], list[float]] = {}  # insertion order = the order windows opened
    outputs: list[Any] = []
    watermark: float | None = None

    def emit(ready: Callable[[int], bool]) -> None:
        closing = sorted(
            (k for k in windows if ready(k[1] + size)), key=lambda k: k[1] + size
        )  # stable: ties keep the order they opened
        for sensor, start in closing:
            total, n = windows.pop((sensor, start))
            outputs.append(
                {"key": sensor, "start": start, "end": start + size, "count": int(n), "value": total / n}
            )

    for line in lines:
        r = json.loads(line)
        if not (isinstance(r.get("sensor"), str) and _is_number(r.get("ts")) and _is_number(r.get("temp"))):
            continue
        ts = r["ts"]
        start = ts - ts % size
        if watermark is not None and start + size + lateness <= watermark:
            outputs.append({"late": r, "time": ts, "key": r["sensor"]})
        else:
            acc = windows.setdefault((r["sensor"], start), [0, 0])
            acc[0] += r["temp"]
            acc[1] += 1
        watermark = ts if watermark is None else max(watermark, ts)
        emit(lambda end, wm=watermark: end + lateness <= wm)
    emit(lambda end: True)
    return "sensor-minutes", outputs


ORACLES: dict[str, Callable[[], tuple[str, list[Any]]]] = {
    "count_chunks.rtfs": expect_count_chunks,
    "weather.rtfs": expect_weather,
    "threshold_alert.rtfs": expect_threshold_alert,
    "sensor_windows.rtfs": expect_sensor_windows,
}
EXAMPLES = sorted(p.name for p in PROCESSORS.glob("*.rtfs") if not p.name.endswith("_test.rtfs"))


def test_every_example_has_an_oracle() -> None:
    assert EXAMPLES, "no examples found"
    assert set(EXAMPLES) == set(ORACLES), "add an oracle to tests/test_processors.py for each new example"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_with_the_expected_output(name: str, tmp_path: Path) -> None:
    stream, expected = ORACLES[name]()
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    # run from an unrelated folder: the example must find its data relative to itself
    proc = subprocess.run(
        [str(STREAMRT), "run", str(PROCESSORS / name)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["output"] for line in lines] == expected
    assert all(line["stream"] == stream for line in lines)
    assert [line["seq"] for line in lines] == list(range(1, len(expected) + 1))
    assert "Traceback" not in proc.stderr
    assert f"stream {stream}: completed" in proc.stderr


PROCESSOR_OF = {
    "count_chunks.rtfs": "count-chunks",
    "weather.rtfs": "aggregate",
    "threshold_alert.rtfs": "watch",
    "sensor_windows.rtfs": "aggregate",
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_processor_keeps_the_runtime_invariants(name: str) -> None:
    """The streamrt.testing state machine, driven by random chunks and directives, against each example."""
    script = load_script(path=PROCESSORS / name)
    machine = provider_machine(script.processor(PROCESSOR_OF[name]), initial_state={})
    run_state_machine_as_test(machine, settings=settings(max_examples=40, deadline=None))

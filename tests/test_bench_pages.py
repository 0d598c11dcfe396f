"""The benchmark tables in the book are rendered from their JSON records, readably."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "book" / "results" / "bench").glob("*.json"))


@pytest.fixture(scope="module")
def bench_run():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.parametrize("record", RECORDS, ids=[p.stem for p in RECORDS])
def test_each_committed_page_is_its_record_rendered(bench_run, record):
    page = record.with_suffix(".md")
    assert page.read_text() == bench_run.book_page(json.loads(record.read_text())), (
        f"{page.name} is stale: python bench/run.py --from-json {record.relative_to(ROOT)} --markdown "
        f"{page.relative_to(ROOT)}")


def test_numbers_are_shown_to_four_significant_figures_without_exponents(bench_run):
    readable = bench_run.readable
    assert readable("FID 21.8289, ours - theirs 0.00e+00; time 0.947") == "FID 21.83, ours - theirs 0; time 0.947"
    assert readable("100 epochs: 1.32e+03 min; 69.1% of the rate; 0.5582 s/step") == \
        "100 epochs: 1320 min; 69.1% of the rate; 0.5582 s/step"
    # no padding zeros, versions and names left alone
    assert readable("0.151 TFLOP/s, torch 2.14.1, 32x32") == "0.151 TFLOP/s, torch 2.14.1, 32x32"
    # FLOPs per example are named by the row's unit
    assert readable("0.008511 GFLOP/image", {"unit": "points/s"}) == "0.008511 GFLOP/point"
    assert readable("1.515 GFLOP/image", {"unit": "images/s"}) == "1.515 GFLOP/image"
    assert bench_run._four(24988.81) == "24,990" and bench_run._four(358.61) == "358.6"


def test_a_record_keeps_no_path_of_the_machine_it_ran_on(bench_run):
    """The command above a table shows paths inside the checkout relative to it and others by name."""
    inside = str(ROOT / "book" / "results" / "bench" / "gpu.json")
    assert bench_run.shown_argv(["--only", "dcgan", "--out", "/elsewhere/out/bench-gpu.json", "--markdown", inside]) == \
        ["--only", "dcgan", "--out", "bench-gpu.json", "--markdown", "book/results/bench/gpu.json"]
    for record in RECORDS:
        assert not any(Path(a).is_absolute() for a in json.loads(record.read_text())["argv"]), record.name


def test_a_short_benchmark_states_its_wall_time_in_seconds(bench_run):
    # "0 min" for an 18-second run said nothing; whole minutes from two minutes on
    assert bench_run.duration(17.6) == "18 s" and bench_run.duration(68.4) == "68 s"
    assert bench_run.duration(120) == "2 min" and bench_run.duration(245) == "4 min"

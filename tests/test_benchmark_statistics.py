"""The statistics the benchmarks report (not their timings).

Authors
 * ast_sb developers 2026
"""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name: str):
    path = os.path.join(ROOT, "benchmarks", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model_part():
    return _load("benchmark_model_part")


def test_paired_ratio_cancels_drift_between_repetitions(model_part):
    # the machine slows down 8x over the run; the candidate is always 10 %
    # slower than the reference timed next to it
    drift = [1.0, 2.0, 4.0, 8.0, 8.0, 4.0, 2.0, 1.0, 3.0]
    reference = drift
    candidate = [1.1 * d for d in drift]
    r = model_part.paired_ratio(reference, candidate)
    assert r["median"] == pytest.approx(1 / 1.1)
    assert r["ci95"][0] == pytest.approx(1 / 1.1)
    assert r["ci95"][1] == pytest.approx(1 / 1.1)
    assert r["faster_share"] == 0.0
    # unpaired figures cannot see it: same minimum ratio for shuffled pairs
    assert min(reference) / min(candidate) == pytest.approx(1 / 1.1)


def test_paired_ratio_interval_holds_the_median_and_is_seeded(model_part):
    reference = [1.0, 1.2, 0.9, 1.5, 1.1, 1.3, 1.0]
    candidate = [0.8, 1.3, 0.7, 1.2, 1.0, 1.0, 0.9]
    a = model_part.paired_ratio(reference, candidate)
    b = model_part.paired_ratio(reference, candidate)
    assert a == b
    low, high = a["ci95"]
    assert low <= a["median"] <= high
    assert low < high
    assert a["faster_share"] == pytest.approx(6 / 7)


def test_paths_option_rejects_an_unknown_path(model_part, capsys):
    with pytest.raises(SystemExit):
        model_part.main(["--paths", "bf16,tensorrt"])
    assert "tensorrt" in capsys.readouterr().err


def test_vcpu_balance_is_slowest_over_fastest():
    vcpu = _load("vcpu_balance")
    rates = {0: {"float32": 50.0}, 1: {"float32": 200.0}, 2: {"float32": 100.0}}
    assert vcpu.balance(rates, "float32") == 0.25

"""The benchmark scripts (benchmarks/, never part of the test run) still fit the code they
time: a GPU run is rare and short, and a script that stops at a renamed step wastes it."""

from __future__ import annotations

import sys

from conftest import ROOT

import qa.indexing.build


def test_the_steps_the_gpu_benchmark_times_are_steps_of_the_build() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_build
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert "STEPS" in gpu_build._BUILD
    missing = [name for name in gpu_build.STEPS if not hasattr(qa.indexing.build, name)]
    assert not missing, (
        f"benchmarks/gpu_build.py times steps qa.indexing.build no longer has: {missing}"
    )

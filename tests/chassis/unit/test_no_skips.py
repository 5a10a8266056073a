"""A skipped test fails the run unless a developer opted out, and never in CI."""

from __future__ import annotations

import pytest

from devtools.testing import ROOT

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

def test_runs():
    pass

def test_cannot_run_here():
    pytest.skip("a tier's tool is missing")
"""


def run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    *options: str,
    **env: str,
) -> pytest.RunResult:
    for name in ("CI", "HEADSTORE_ALLOW_SKIPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The plugin from this checkout, whichever checkout the virtualenv was installed from.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(SKIPPING)
    return pytester.runpytest_subprocess(
        "-p", "devtools.no_skips", "-p", "no:cacheprovider", *options
    )


def test_a_skipped_test_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, monkeypatch)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*SKIPPED (not allowed): *test_cannot_run_here*"])


def test_a_developer_may_opt_out(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(pytester, monkeypatch, HEADSTORE_ALLOW_SKIPS="1").ret == pytest.ExitCode.OK


def test_ci_ignores_the_opt_out(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(pytester, monkeypatch, HEADSTORE_ALLOW_SKIPS="1", CI="true")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_skipped_test_fails_the_run_with_two_workers_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make test` runs pytest-xdist workers: their skips reach the run that decides."""
    result = run(pytester, monkeypatch, "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*SKIPPED (not allowed): *test_cannot_run_here*"])

"""The pieces of kurir.http_guard that need no server: the refusal log's window, the fd limit."""

import asyncio
import logging
import resource
import subprocess
import sys

import pytest

from kurir.http_guard import RESERVED_DESCRIPTORS, RefusalLog


async def test_refusals_are_logged_at_once_then_counted_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kurir.http")
    loop = asyncio.get_running_loop()
    refusals = RefusalLog("refused things (KURIR_X)", every_s=0.2)

    def lines() -> list[str]:
        return [record.getMessage() for record in caplog.records]

    refusals.add(loop)  # the first of a quiet spell: at once
    assert lines() == ["refused things (KURIR_X): 1 in the last 0.2 s"]
    for _ in range(500):
        refusals.add(loop)
    refusals.add(loop, count=99)
    assert len(lines()) == 1  # the rest wait for the window's end
    await asyncio.sleep(0.3)
    assert lines()[1:] == ["refused things (KURIR_X): 599 in the last 0.2 s"]
    await asyncio.sleep(0.3)  # a window without refusals ends the spell, silently
    assert len(lines()) == 2
    refusals.add(loop)
    assert lines()[2:] == ["refused things (KURIR_X): 1 in the last 0.2 s"]
    await asyncio.sleep(0.3)
    assert len(lines()) == 3


def _ceiling_under_limit(limit: int, wanted: int) -> tuple[str, str]:
    """fit_descriptor_limit(wanted) in a process whose hard descriptor limit is ``limit``."""
    code = (
        "import logging, resource\n"
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "from kurir.http_guard import fit_descriptor_limit\n"
        f"print(fit_descriptor_limit({wanted}), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, 256), limit))

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, preexec_fn=lower
    )
    return done.stdout.strip(), done.stderr.strip()


def test_the_soft_descriptor_limit_is_raised_to_fit_the_ceiling() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1000 + RESERVED_DESCRIPTORS:
        pytest.skip(f"this process may open only {hard} files")
    out, err = _ceiling_under_limit(1000 + RESERVED_DESCRIPTORS, 1000)
    assert out == f"1000 {1000 + RESERVED_DESCRIPTORS}"
    assert err == ""


def test_a_ceiling_the_hard_limit_cannot_hold_is_lowered_and_said() -> None:
    out, err = _ceiling_under_limit(600, 2000)
    assert out == f"{600 - RESERVED_DESCRIPTORS} 600"
    assert err == (
        f"KURIR_MAX_CONNECTIONS lowered from 2000 to {600 - RESERVED_DESCRIPTORS}: the process "
        "may open only 600 files (raise its hard limit, e.g. LimitNOFILE= or ulimit -Hn, "
        "to allow more)"
    )

"""`python -m services.scoring recompute|report` reach the operator commands (as `python -m services.ingest COMMAND`
does for ingest), without starting the service."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("command", "option"), [("recompute", "--fix"), ("report", "--period")])
def test_an_operator_command_is_dispatched_and_documents_itself(command: str, option: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.scoring", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m services.scoring {command}")
    assert option in done.stdout

"""``.ci/install-alertmanager``: CI installs Debian's Alertmanager for the HA test as root or
through passwordless sudo, ``apt-get update`` first, and says why when it cannot. Run with
stand-ins for ``id``, ``sudo`` and ``apt-get`` that record their calls (nothing is installed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "install-alertmanager"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path: Path, *, uid: int, sudo: str | None) -> tuple[list[str], str]:
    stubs, log = tmp_path / "bin", tmp_path / "calls"
    stubs.mkdir()
    _stub(stubs, "id", f'echo {uid}; echo "id $*" >> {log}')
    _stub(stubs, "apt-get", f'echo "apt-get $*" >> {log}')
    if sudo == "ok":
        _stub(stubs, "sudo", f'echo "sudo $*" >> {log}; shift; exec "$@"')
    elif sudo == "refused":
        _stub(stubs, "sudo", f'echo "sudo $*" >> {log}; exit 1')
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "ALERTMANAGER_BIN": str(tmp_path / "absent"),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return [c for c in calls if not c.startswith("id ")], done.stderr


UPDATE = "apt-get update -qq"
INSTALL = "apt-get install -y -qq prometheus-alertmanager"


def test_root_installs_after_an_update(tmp_path: Path) -> None:
    calls, err = _run(tmp_path, uid=0, sudo=None)
    assert calls == [UPDATE, INSTALL] and err == ""


def test_a_runner_that_is_not_root_installs_through_sudo(tmp_path: Path) -> None:
    calls, err = _run(tmp_path, uid=1001, sudo="ok")
    assert calls == [
        "sudo -n true",
        f"sudo -n {UPDATE}",
        UPDATE,
        f"sudo -n env DEBIAN_FRONTEND=noninteractive {INSTALL}",
        INSTALL,
    ]
    assert err == ""


@pytest.mark.parametrize("sudo", ["refused", None])
def test_without_root_or_sudo_it_says_the_ha_test_will_skip(tmp_path: Path, sudo) -> None:
    if sudo is None and os.path.exists("/usr/bin/sudo"):
        pytest.skip("a real sudo is on PATH here")
    calls, err = _run(tmp_path, uid=1001, sudo=sudo)
    assert not any(c.startswith("apt-get") for c in calls)
    assert "not root and no passwordless sudo" in err and "HA test will skip" in err

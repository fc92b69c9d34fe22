"""The hardened systemd unit: parses cleanly, scores <= 1.5, and keeps what the daemon relies on.

systemd cannot start the unit here (PID 1 is not systemd in CI or containers), so these tests
check what can be checked without it: `systemd-analyze verify` and `systemd-analyze security
--offline=yes` on the unit file itself, a static reading of the directives the daemon depends on,
and, where the kernel offers it, that CPython still runs under the no-writable-and-executable-
memory rule that `MemoryDenyWriteExecute=yes` imposes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "riskwatch.service"
INSTALLED_BINARY = "/opt/riskwatch/venv/bin/riskwatch"
MAX_EXPOSURE = 1.5


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> every value, in order (LoadCredential= etc. may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]


def analyze() -> str:
    """Path of systemd-analyze, or skip: the checks need systemd >= 250 (--offline=yes)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    found = re.match(r"systemd (\d+)", out.stdout)
    if found is None or int(found.group(1)) < 250:
        pytest.skip(f"systemd-analyze too old for --offline=yes: {out.stdout[:40]!r}")
    return tool


def verify(tool: str, unit_text: str, directory: Path) -> tuple[int, list[str]]:
    """Run `systemd-analyze verify` on a copy of the unit; return its exit code and its lines.

    verify checks that the ExecStart= binary exists and is executable; /opt/riskwatch/venv is
    only there on an installed host. The copy is the unit byte for byte except that one path,
    swapped for this interpreter (an existing executable; verify does not run it). `--root=`
    is no way out: it also moves the lookup of /bin/kill and of the system's units
    (sysinit.target, ...) under that root. The copy keeps the name riskwatch.service, which
    verify requires to match the unit type.

    verify exits 0 even for an unknown key or an unparsable value (it "ignores" them), so the
    caller must also read its output.
    """
    assert INSTALLED_BINARY in unit_text
    copy = directory / "riskwatch.service"
    copy.write_text(unit_text.replace(INSTALLED_BINARY, sys.executable), encoding="utf-8")
    done = subprocess.run(
        [tool, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, [line for line in lines if "riskwatch" in line]


def test_verify_is_clean(tmp_path: Path) -> None:
    tool = analyze()
    code, complaints = verify(tool, UNIT.read_text(encoding="utf-8"), tmp_path)
    assert complaints == []
    assert code == 0


def test_verify_would_report_a_bad_directive(tmp_path: Path) -> None:
    """Control for the test above: the filter does see verify's complaints about this unit."""
    tool = analyze()
    text = UNIT.read_text(encoding="utf-8").replace("Type=notify\n", "Type=notify-reload\n")
    text = text.replace("ProtectHome=yes\n", "ProtectHomes=yes\n")
    _code, complaints = verify(tool, text, tmp_path)
    assert any("notify-reload" in line for line in complaints), complaints
    assert any("ProtectHomes" in line for line in complaints), complaints


def exposure(tool: str, unit: Path) -> float:
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    assert found, done.stdout[-500:] + done.stderr
    return float(found.group(1))


def test_security_exposure_is_at_most_1_5() -> None:
    tool = analyze()
    assert exposure(tool, UNIT) <= MAX_EXPOSURE


def test_security_score_reacts_to_hardening(tmp_path: Path) -> None:
    """Control: the parser reads a real score (a unit without the hardening scores far worse)."""
    tool = analyze()
    bare = tmp_path / "riskwatch.service"
    bare.write_text(
        "[Service]\nType=notify\nExecStart=/opt/riskwatch/venv/bin/riskwatch run\n",
        encoding="utf-8",
    )
    assert exposure(tool, bare) > 5.0


def test_lifecycle_directives(service: dict[str, list[str]]) -> None:
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert re.fullmatch(r"\d+(s|min)?", service["WatchdogSec"][0])
    assert service["ExecStart"] == [
        "/opt/riskwatch/venv/bin/riskwatch run -c ${CONFIGURATION_DIRECTORY}/rules.yaml"
    ]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    assert "RestartSec" in service
    assert "PYTHONUNBUFFERED=1" in service["Environment"]


def test_identity_and_directories(service: dict[str, list[str]]) -> None:
    assert service["DynamicUser"] == ["yes"]
    assert service["StateDirectory"] == ["riskwatch"]
    assert service["StateDirectoryMode"] == ["0700"]
    assert service["ConfigurationDirectory"] == ["riskwatch"]


def test_three_bitget_credentials(service: dict[str, list[str]]) -> None:
    names = [value.split(":", 1)[0] for value in service["LoadCredential"]]
    assert names == ["bitget_api_key", "bitget_api_secret", "bitget_api_passphrase"]
    for value in service["LoadCredential"]:
        name, path = value.split(":", 1)
        assert path == f"/etc/riskwatch/credentials/{name}"
    assert not any("BITGET" in value for value in service.get("Environment", []))


def test_network_kept_for_https_and_notify_socket(service: dict[str, list[str]]) -> None:
    assert service["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "PrivateNetwork" not in service
    assert "IPAddressDeny" not in service


MDWE_CHILD = textwrap.dedent(
    """
    import mmap, sqlite3, ssl, sys, tempfile, threading
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        pass
    else:
        sys.exit("writable+executable memory was allowed: MDWE not in force")
    import apprise, requests, yaml
    from riskwatch.cli import main as cli
    ssl.create_default_context()
    apprise.Apprise().add("json://127.0.0.1:9/")
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(d + "/s.sqlite")
        db.execute("pragma journal_mode=wal")
        db.execute("create table t(x)")
        db.commit()
        db.close()
    t = threading.Thread(target=yaml.safe_load, args=("a: 1",))
    t.start()
    t.join()
    sys.exit(cli.main(["schema", "--help"]))
    """
)

MDWE_PARENT = textwrap.dedent(
    """
    import ctypes, os, sys
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(77)
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[1]])
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_MDWE) is Linux")
def test_python_runs_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes must not break the interpreter or the daemon's imports.

    systemd enforces it with a seccomp filter we cannot install without systemd; Linux >= 6.3
    offers the same rule as prctl(PR_SET_MDWE), inherited across execve. A fresh interpreter under
    it imports ssl, sqlite3 (WAL), requests, yaml, apprise (with its plugins) and riskwatch's CLI,
    starts a thread, and proves the rule is in force by failing to map W+X memory.
    """
    done = subprocess.run(
        [sys.executable, "-c", MDWE_PARENT, MDWE_CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 77:
        pytest.skip("kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert done.returncode == 0, done.stderr[-2000:]


# --------------------------------------------------------------------------- the template unit

TEMPLATE = UNIT.with_name("riskwatch@.service")


def test_template_instance_verifies_and_scores_like_the_unit(tmp_path: Path) -> None:
    """``riskwatch@ACCOUNT``: one process per account (DESIGN 14), as hardened as the unit."""
    tool = analyze()
    text = TEMPLATE.read_text(encoding="utf-8").replace(INSTALLED_BINARY, sys.executable)
    instance = tmp_path / "riskwatch@hedge.service"
    instance.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [tool, "verify", "--man=no", str(instance)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert [x for x in (done.stdout + done.stderr).splitlines() if "riskwatch" in x] == []
    assert exposure(tool, instance) <= MAX_EXPOSURE


def test_template_gives_each_account_its_rules_state_and_credentials() -> None:
    service = parse_unit(TEMPLATE.read_text(encoding="utf-8"))["Service"]
    assert service["ExecStart"] == [
        f"{INSTALLED_BINARY} run -c ${{CONFIGURATION_DIRECTORY}}/%i.yaml"
    ]
    assert service["StateDirectory"] == ["riskwatch/%i"]
    assert sorted(service["LoadCredential"]) == [
        f"bitget_api_{name}:/etc/riskwatch/credentials/%i/bitget_api_{name}"
        for name in ("key", "passphrase", "secret")
    ]
    same = parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]
    differ = {"ExecStart", "StateDirectory", "LoadCredential"}
    assert {k: v for k, v in service.items() if k not in differ} == {
        k: v for k, v in same.items() if k not in differ
    }, "the template keeps every other directive of riskwatch.service"

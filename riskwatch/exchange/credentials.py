"""The three Bitget secrets: where they come from, and how they are kept out of sight.

Read from the environment first (``BITGET_API_KEY``, ``BITGET_API_SECRET``,
``BITGET_API_PASSPHRASE``), then from systemd credentials (``$CREDENTIALS_DIRECTORY/bitget_api_key``
etc., ``LoadCredential=``), so a unit file can keep them off the environment entirely. Every value
is registered with ``logs.register_secret`` the moment it is read, and the object's repr never
shows one: an accidental ``log.debug(creds)`` prints nothing secret.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from riskwatch import logs
from riskwatch.errors import CredentialsError

log = logging.getLogger("riskwatch.exchange")
BOM = "\ufeff"

SUFFIXES: tuple[tuple[str, str], ...] = (
    ("api_key", "_API_KEY"),
    ("api_secret", "_API_SECRET"),
    ("passphrase", "_API_PASSPHRASE"),
)
DEFAULT_PREFIX = "BITGET"


def variables(prefix: str = DEFAULT_PREFIX) -> tuple[tuple[str, str], ...]:
    """(attribute, variable) of one account's secrets: ``BITGET_HEDGE`` reads
    ``BITGET_HEDGE_API_KEY``, ``BITGET_HEDGE_API_SECRET`` and ``BITGET_HEDGE_API_PASSPHRASE``."""
    return tuple((attr, prefix + suffix) for attr, suffix in SUFFIXES)


VARIABLES = variables()


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"

    __str__ = __repr__


def _read_file(directory: str, name: str) -> str | None:
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().rstrip("\r\n")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read credential file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:  # its text would show bytes of the secret: name the file only
        raise CredentialsError(f"cannot read credential file {path}: not UTF-8 text") from None


def _check(var: str, value: str) -> None:
    """Bitget's key, secret and passphrase are printable ASCII without spaces. Anything else is
    a copy-paste accident (a trailing newline, a leading space, a smart quote) that would later
    fail as a cryptic signing or encoding error: say which variable, never the value."""
    problem = None
    if not value.isascii():
        problem = "contains a non-ASCII character"
    elif any(c.isspace() for c in value):
        problem = "contains whitespace (a space or a line break)"
    elif not value.isprintable():
        problem = "contains a control character"
    if problem:
        raise CredentialsError(f"{var} {problem}: copy the value again, exactly")


def load(
    environ: Mapping[str, str] | None = None,
    prefix: str = DEFAULT_PREFIX,
    account: str | None = None,
) -> Credentials:
    """Environment first, then ``$CREDENTIALS_DIRECTORY``; a missing value is an error naming
    the variable (and the file looked for) and, given, the ``account``; never a value."""
    env = os.environ if environ is None else environ
    cred_dir = env.get("CREDENTIALS_DIRECTORY", "")
    values: dict[str, str] = {}
    missing: list[str] = []
    for attr, var in variables(prefix):
        value = env.get(var, "")
        if not value and cred_dir:
            value = _read_file(cred_dir, var.lower()) or ""
        if value.startswith(BOM):  # an editor's byte-order mark: not part of the secret
            log.warning("%s starts with a byte-order mark; it was removed", var)
            value = value[len(BOM) :]
        if not value:
            where = f" (nor {os.path.join(cred_dir, var.lower())})" if cred_dir else ""
            missing.append(f"{var}{where}")
            continue
        logs.register_secret(value)
        _check(var, value)
        values[attr] = value
    if missing:
        whose = f" of account {account}" if account else ""
        raise CredentialsError(
            f"missing Bitget credentials{whose}: set "
            + ", ".join(missing)
            + " (environment, or files in $CREDENTIALS_DIRECTORY)"
        )
    return Credentials(**values)

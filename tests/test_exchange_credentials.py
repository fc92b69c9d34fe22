"""Credentials: env first, then $CREDENTIALS_DIRECTORY; never shown."""

from __future__ import annotations

import pytest

from riskwatch import logs
from riskwatch.errors import CredentialsError
from riskwatch.exchange import credentials

ENV = {
    "BITGET_API_KEY": "bg_key_abcdef123",
    "BITGET_API_SECRET": "secret_abcdef456",
    "BITGET_API_PASSPHRASE": "pass_abcdef789",
}


def test_env_is_read_and_repr_is_redacted() -> None:
    c = credentials.load(ENV)
    assert (c.api_key, c.api_secret, c.passphrase) == tuple(ENV.values())
    for v in ENV.values():
        assert v not in repr(c) and v not in str(c)
        assert v not in logs.redact(f"x {v} y")


def test_credentials_directory_files_with_trailing_newline(tmp_path) -> None:
    for name, value in ENV.items():
        (tmp_path / name.lower()).write_text(value + "\n")
    c = credentials.load({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert c.passphrase == ENV["BITGET_API_PASSPHRASE"]


def test_env_wins_over_files(tmp_path) -> None:
    (tmp_path / "bitget_api_key").write_text("from_file_key_000")
    c = credentials.load({**ENV, "CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert c.api_key == ENV["BITGET_API_KEY"]


def test_missing_names_the_variable_never_a_value() -> None:
    with pytest.raises(CredentialsError) as info:
        credentials.load({"BITGET_API_KEY": ENV["BITGET_API_KEY"]})
    msg = str(info.value)
    assert "BITGET_API_SECRET" in msg and "BITGET_API_PASSPHRASE" in msg
    assert ENV["BITGET_API_KEY"] not in msg


def test_non_utf8_file_is_an_error_naming_the_file_never_its_content(tmp_path) -> None:
    (tmp_path / "bitget_api_key").write_bytes(b"bg_key_\xff\xfe_secretbytes")
    with pytest.raises(CredentialsError) as info:
        credentials.load({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    msg = str(info.value)
    assert str(tmp_path / "bitget_api_key") in msg and "UTF-8" in msg
    assert "bg_key" not in msg and "secretbytes" not in msg and "xff" not in msg


def test_unreadable_file_is_an_error_naming_the_file(tmp_path) -> None:
    (tmp_path / "bitget_api_key").mkdir()  # a directory where the file should be
    with pytest.raises(CredentialsError, match="bitget_api_key"):
        credentials.load({"CREDENTIALS_DIRECTORY": str(tmp_path)})

"""Every setting is documented, and the environment and flags really set it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from tracehouse.settings import SIZE_SETTINGS, SettingError, Settings, format_size, parse_retention, parse_size

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_in_the_configuration_doc() -> None:
    text = DOCS.read_text()
    for f in fields(Settings):
        assert f"`{f.metadata['env']}`" in text, f"{f.metadata['env']} is not documented in docs/configuration.md"
        if f.metadata["flag"]:
            assert f"`{f.metadata['flag']}`" in text, f"{f.metadata['flag']} is not documented"


def test_documented_defaults_match_the_code() -> None:
    rows = {line.split("|")[1].strip(" `"): line for line in DOCS.read_text().splitlines()
            if line.startswith("| `TRACEHOUSE_")}
    shown = {"retention_seconds": "7d", "max_size_bytes": "10GB", "max_body_bytes": "64MiB",
             "data_dir": "./.tracehouse",
             "disk_reserve_bytes": "128MiB", "queue_max_bytes": "128MiB", "attribute_value_max_bytes": "1MiB",
             "span_max_bytes": "4MiB", "sql_memory_bytes": "512MiB"}
    defaults = Settings()
    for f in fields(Settings):
        value = shown.get(f.name, str(getattr(defaults, f.name)))
        assert f"`{value}`" in rows[f.metadata["env"]], f"{f.metadata['env']}: default {value} not in the doc"


def test_environment_then_flags_override_defaults() -> None:
    settings = Settings.from_env({"TRACEHOUSE_QUERY_PORT": "17000", "TRACEHOUSE_RETENTION": "12h",
                                  "TRACEHOUSE_MAX_SIZE": "2GB"})
    assert (settings.query_port, settings.retention_seconds, settings.max_size_bytes) == (17000, 43200, 2 * 10**9)
    overridden = settings.with_overrides(query_port="18000", retention_seconds=None)
    assert overridden.query_port == 18000
    assert overridden.retention_seconds == 43200


def test_defaults_bind_to_loopback() -> None:
    assert Settings.from_env({}).host == "127.0.0.1"


@pytest.mark.parametrize(("env", "value"), [("TRACEHOUSE_QUERY_PORT", "http"), ("TRACEHOUSE_MAX_SIZE", "lots"),
                                            ("TRACEHOUSE_RETENTION", "forever"), ("TRACEHOUSE_QUEUE_MAX_SPANS", "-5")])
def test_bad_values_name_the_setting(env: str, value: str) -> None:
    with pytest.raises(SettingError, match=env):
        Settings.from_env({env: value})


def test_units() -> None:
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("1.5GB") == 1_500_000_000
    assert parse_retention("2w") == 14 * 86400
    assert parse_retention("90") == 90


def test_size_defaults_are_shown_in_a_spelling_that_parses_back_to_them() -> None:
    # `tracehouse up --help` shows size defaults through format_size; a spelling that read back to
    # another value would document the wrong default.
    defaults = Settings()
    for name in SIZE_SETTINGS:
        value = getattr(defaults, name)
        assert parse_size(format_size(value)) == value, name
    assert [format_size(v) for v in (10 * 10**9, 128 * 2**20, 1500, 0)] == ["10GB", "128MiB", "1500", "0"]

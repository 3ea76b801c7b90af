"""botrunner.config.fleet: the fleet's settings file (notifications) is validated like a bot file, and a URL never
appears in an error; botrunner run merges its URLs with the flag's and the environment's and scrubs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrunner.cli import CliError
from botrunner.cli.run import merged_notify_urls, read_fleet_settings
from botrunner.config.fleet import FleetSettings, NotifySettings, parse_fleet_settings
from botrunner.logsetup import scrub
from botrunner.yamlconf import ConfigError

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the shape of a Telegram bot token (made up)


def test_a_full_file_is_read() -> None:
    text = "notify:\n  urls: ['json://127.0.0.1:9/hook', 'tgram://%s/42']\n  dedup_s: 60\n  rate_per_minute: 5\n"
    settings = parse_fleet_settings(text % TOKEN, "fleet.yaml")
    assert settings.notify.urls == ("json://127.0.0.1:9/hook", f"tgram://{TOKEN}/42")
    assert (settings.notify.dedup_s, settings.notify.rate_per_minute) == (60, 5)
    assert TOKEN not in repr(settings) and TOKEN not in repr(settings.notify)


def test_an_empty_file_is_the_defaults() -> None:
    assert parse_fleet_settings("", "fleet.yaml") == FleetSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("notify:\n  url: ['json://a/b']\n", "fleet.yaml:2:3: notify.url: unknown key; did you mean urls?"),
        ("notfy: {}\n", "fleet.yaml:1:1: notfy: unknown key; did you mean notify?"),
        (
            "notify:\n  dedup_s: 1\n  dedup_s: 2\n",
            "fleet.yaml:3:3: notify.dedup_s: duplicate key 'dedup_s': first given at line 2",
        ),
        ("notify:\n  rate_per_minute: 0\n", "fleet.yaml:2:3: notify.rate_per_minute: must be >= 1, got 0"),
        ("notify:\n  dedup_s: -1\n", "fleet.yaml:2:3: notify.dedup_s: must be >= 0, got -1"),
        ("notify:\n  urls: [12]\n", "fleet.yaml:2:10: notify.urls[0]: expected str, got int"),
    ],
)
def test_bad_files_are_one_line_errors_naming_file_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_fleet_settings(text, "fleet.yaml")
    assert str(err.value).startswith(expected), str(err.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{TOKEN}@telegram", "notify.urls[1]: not an apprise URL (SCHEME://...; the value is not shown"),
        (f"nosuchservice://{TOKEN}", "notify.urls[1]: the installed apprise cannot use this nosuchservice:// URL"),
    ],
)
def test_a_malformed_url_is_named_by_its_index_never_shown(url: str, expected: str) -> None:
    text = f"notify:\n  urls:\n    - json://127.0.0.1:9/hook\n    - '{url}'\n"
    with pytest.raises(ConfigError) as err:
        parse_fleet_settings(text, "fleet.yaml")
    assert str(err.value).startswith(f"fleet.yaml:4:7: {expected}"), str(err.value)
    assert TOKEN not in str(err.value)


def test_run_finds_fleet_yaml_beside_the_bot_directory(tmp_path: Path) -> None:
    bots = tmp_path / "bots"
    bots.mkdir()
    assert read_fleet_settings(bots, None) == FleetSettings()  # none there: the defaults
    (tmp_path / "fleet.yaml").write_text("notify:\n  urls: ['json://127.0.0.1:9/hook']\n")
    assert read_fleet_settings(bots, None).notify == NotifySettings(urls=("json://127.0.0.1:9/hook",))
    with pytest.raises(CliError, match=r"elsewhere\.yaml: no such file"):
        read_fleet_settings(bots, tmp_path / "elsewhere.yaml")  # a named file must exist
    (tmp_path / "fleet.yaml").write_text("notify:\n  urls: nope\n")
    with pytest.raises(CliError, match=r"fleet\.yaml:2:3: notify\.urls: expected array, got str"):
        read_fleet_settings(bots, None)


def test_urls_are_merged_once_each_and_scrubbed() -> None:
    telegram = f"tgram://{TOKEN}/42"
    merged = merged_notify_urls(["json://127.0.0.1:9/hook"], [telegram, "json://127.0.0.1:9/hook"], [telegram])
    assert merged == ("json://127.0.0.1:9/hook", telegram)
    assert TOKEN not in scrub(f"sending to {telegram}")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in scrub("token AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw alone")

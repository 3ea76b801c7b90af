"""The fleet's own settings, beside its bots: an optional ``fleet.yaml`` next to the bot directory (the default fleet
``config/bots`` has ``config/fleet.yaml``), or the file ``botrunner run --fleet-config`` names.

Today it holds the notifications (``botrunner.notify``)::

    notify:
      urls: ["tgram://BOT_TOKEN/CHAT_ID", "json://127.0.0.1:9000/hook"]
      dedup_s: 600          # identical notifications within this many seconds are sent once
      rate_per_minute: 20   # at most this many go out per minute

Validated like a bot file: unknown keys, duplicate keys, wrong types and a URL apprise cannot use are one-line
errors naming the file, the line and the field. A URL is a secret (an apprise URL carries its service's token):
no error message, log line or operator surface ever shows more of it than its scheme.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from botrunner.yamlconf import ConfigError, decode, field_position, parse_yaml, read_text

FLEET_FILE = "fleet.yaml"
_SCHEME = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://\S+", re.IGNORECASE)


class NotifySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    urls: tuple[str, ...] = ()
    dedup_s: int = 600
    rate_per_minute: int = 20

    def __repr__(self) -> str:  # the URLs are secrets: a repr in a traceback or a log must not carry them
        return f"NotifySettings(urls=<{len(self.urls)} hidden>, dedup_s={self.dedup_s}, rate={self.rate_per_minute})"


class FleetSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    notify: NotifySettings = NotifySettings()


def default_path(fleet: Path) -> Path | None:
    """Where a fleet's settings are looked for when no file is named: ``fleet.yaml`` beside the bot directory."""
    return fleet.parent / FLEET_FILE if fleet.is_dir() else None


def parse_fleet_settings(text: str, source: str) -> FleetSettings:
    data, positions = parse_yaml(text, source)
    if data is None:
        return FleetSettings()
    settings = decode(data, positions, source, FleetSettings)

    def fail(message: str, *path: str | int) -> ConfigError:
        field = ".".join(str(p) for p in path if not isinstance(p, int))
        index = "".join(f"[{p}]" for p in path if isinstance(p, int))
        return ConfigError.at(source, field_position(positions, *path), field + index, message)

    notify = settings.notify
    if notify.dedup_s < 0:
        raise fail(f"must be >= 0, got {notify.dedup_s}", "notify", "dedup_s")
    if notify.rate_per_minute < 1:
        raise fail(f"must be >= 1, got {notify.rate_per_minute}", "notify", "rate_per_minute")
    for i, url in enumerate(notify.urls):
        match = _SCHEME.fullmatch(url.strip())
        if match is None:
            raise fail(
                "not an apprise URL (SCHEME://...; the value is not shown: it may hold a token)", "notify", "urls", i
            )
        if not _apprise_accepts(url):
            raise fail(
                f"the installed apprise cannot use this {match.group('scheme')}:// URL (the rest is not shown: it "
                "may hold a token)",
                "notify",
                "urls",
                i,
            )
    return settings


def _apprise_accepts(url: str) -> bool:
    import apprise  # only when a file names URLs: apprise loads every plugin it has

    return bool(apprise.Apprise().add(url))


def load_fleet_settings(path: Path, *, required: bool) -> FleetSettings:
    """The settings in ``path``; a missing file is an error only when ``required`` (named by the operator)."""
    if not path.exists():
        if required:
            raise ConfigError(str(path), None, "", "no such file")
        return FleetSettings()
    return parse_fleet_settings(read_text(path), str(path))

"""Before a live or monitor bot starts: find its RPC URL, load its key, and check the RPC answers.

A fleet's RPCs are checked together (``probe_rpcs``): each distinct URL once, all at the same time, so a fleet of
live bots on one provider costs one round trip, and a slow provider costs its timeout once, not once per bot.

Everything here fails with one line that names what is wrong (``ValueError``); the caller prefixes the bot's file.
An RPC URL often carries an API key (``?api-key=...``), so it is registered with the log scrubber and only its
scheme and host are ever shown.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
from solders.keypair import Keypair

from botrunner.config import BotConfig, BotMode
from botrunner.live.keys import SigningKeyError, load_key
from botrunner.logsetup import MIN_SECRET_LEN, register_secret


def safe_url(url: str) -> str:
    """``https://host:port`` of ``url``: what may be shown of an RPC URL."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


def rpc_url_of(config: BotConfig, environ: Mapping[str, str]) -> str:
    """The bot's RPC URL: ``live.rpc_url``, else the variable ``live.rpc_env``. Raises ``ValueError``."""
    url = config.live.rpc_url or environ.get(config.live.rpc_env, "").strip()
    if not url:
        raise ValueError(f"live.rpc_url is empty and {config.live.rpc_env} is not set: where is the Solana RPC?")
    return checked_rpc_url(url, config.live.rpc_env)


def checked_rpc_url(url: str, where: str) -> str:
    """``url`` checked to be http(s), its secret parts registered with the log scrubber. Raises ``ValueError``
    naming ``where`` (the variable or setting it came from), never the URL."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{where}: the RPC URL must start with http:// or https://")
    parts = urllib.parse.urlsplit(url)
    for secret in (url, parts.query, parts.path.strip("/"), parts.password or ""):
        if len(secret) >= MIN_SECRET_LEN and secret != safe_url(url):
            register_secret(secret)  # an API key hides in the query or the path of most providers' URLs
    return url


def probe_rpc(url: str, timeout_s: float) -> int:
    """Ask the RPC for its slot; return it. Raises ``ValueError`` naming the host when it does not answer."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": [{"commitment": "confirmed"}]}
    try:
        reply = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise ValueError(f"RPC {safe_url(url)} unreachable ({type(exc).__name__})") from None
    if reply.status_code != 200:
        raise ValueError(f"RPC {safe_url(url)} answered HTTP {reply.status_code}")
    try:
        slot = reply.json()["result"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"RPC {safe_url(url)} did not answer getSlot with a result") from None
    if not isinstance(slot, int):
        raise ValueError(f"RPC {safe_url(url)} answered getSlot with {type(slot).__name__}, not a slot number")
    return slot


# At most this many RPC probes at once (a fleet rarely uses more than a few providers).
_MAX_PARALLEL_PROBES = 8


def probe_rpcs(timeouts: Mapping[str, float]) -> dict[str, str]:
    """Probe every RPC URL of ``timeouts`` (URL -> its timeout in s) at the same time; the error message of each
    one that did not answer (``probe_rpc``), by URL. Empty when all answered."""
    if not timeouts:
        return {}

    def failure(url: str) -> str | None:
        try:
            probe_rpc(url, timeouts[url])
        except ValueError as exc:
            return str(exc)
        return None

    urls = sorted(timeouts)
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_PROBES, len(urls)), thread_name_prefix="rpc-probe") as pool:
        found = list(pool.map(failure, urls))
    return {url: message for url, message in zip(urls, found, strict=True) if message is not None}


def load_access(config: BotConfig, environ: Mapping[str, str] | None = None) -> tuple[str, Keypair | None]:
    """The RPC URL and, for a live bot, the signing key whose public key is the authority; no network."""
    env = os.environ if environ is None else environ
    url = rpc_url_of(config, env)
    wallet: Keypair | None = None
    if config.mode is BotMode.LIVE:
        try:
            wallet = load_key(config.live.key_env, env)
        except SigningKeyError as exc:
            raise ValueError(str(exc)) from None
        if str(wallet.pubkey()) != config.account.authority:
            raise ValueError(
                f"account.authority {config.account.authority} is not the public key of {config.live.key_env} "
                f"({wallet.pubkey()}): a bot trades only its own wallet's subaccounts"
            )
    return url, wallet


def resolve_access(config: BotConfig, environ: Mapping[str, str] | None = None) -> tuple[str, Keypair | None]:
    """``load_access``, with the RPC checked to answer (one bot: ``botrunner monitor``)."""
    url, wallet = load_access(config, environ)
    probe_rpc(url, float(config.live.rpc_timeout_s))
    return url, wallet

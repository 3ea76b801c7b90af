"""Typed pykka proxies of the runtime's actors (``pykka.typing``): what the runner may ask of the supervisor and of
a bot, with the argument and answer types of the actor's own methods, so a mistyped ask fails mypy rather than
a mailbox at run time.

``ActorRef.proxy()`` is typed by pykka as a proxy whose attributes are untyped; these classes state the members
the runner uses, and :func:`supervisor_proxy` / :func:`bot_proxy` / :func:`live_bot_proxy` give a ref's
proxy that type (a cast: pykka builds the proxy at run time from the actor's own attributes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pykka
from pykka.typing import ActorMemberMixin, proxy_method

from actors.actor_shell import BotShell
from actors.supervisor import Supervisor

if TYPE_CHECKING:
    from actors.live_actor import LiveBotActor


class SupervisorProxy(ActorMemberMixin, pykka.ActorProxy[Supervisor]):
    start_all = proxy_method(Supervisor.start_all)
    bot_ref = proxy_method(Supervisor.bot_ref)
    slot_view = proxy_method(Supervisor.slot_view)
    command = proxy_method(Supervisor.command)
    reload = proxy_method(Supervisor.reload)
    status = proxy_method(Supervisor.status)
    shutdown = proxy_method(Supervisor.shutdown)


class BotProxy(ActorMemberMixin, pykka.ActorProxy[BotShell]):
    command = proxy_method(BotShell.command)
    position = proxy_method(BotShell.position)
    detail = proxy_method(BotShell.detail)
    flush_marker = proxy_method(BotShell.flush_marker)


if TYPE_CHECKING:  # the live actor (and solana with it) is imported only when a live bot starts

    class LiveBotProxy(BotProxy):
        capital = proxy_method(LiveBotActor.capital)
        confirm = proxy_method(LiveBotActor.confirm)
        in_flight = proxy_method(LiveBotActor.in_flight)
        reading_chain = proxy_method(LiveBotActor.reading_chain)


def supervisor_proxy(ref: pykka.ActorRef[Supervisor]) -> SupervisorProxy:
    return cast(SupervisorProxy, ref.proxy())


def bot_proxy(ref: pykka.ActorRef[BotShell]) -> BotProxy:
    """The proxy of a bot's actor, paper or live."""
    return cast(BotProxy, ref.proxy())


def live_bot_proxy(ref: pykka.ActorRef[BotShell]) -> LiveBotProxy:
    """The proxy of a live bot's actor (the caller checked the bot's mode)."""
    return cast("LiveBotProxy", ref.proxy())

"""A paper bot's saved envelope: the venue checkpoint is embedded as its own JSON (version 2), a version-1 envelope
(the venue base64-encoded inside) still restores, and anything else is one clear error naming the bot."""

from __future__ import annotations

import base64

import msgspec
import pytest

from actors.bot_actor import CHECKPOINT_VERSION, BotCheckpoint, decode_checkpoint
from actors.live_actor import LiveCheckpoint
from botrunner.bench.reference import r1_bot
from botrunner.bot.pipeline import OperatorFlags
from botrunner.paper.config import PaperConfig
from botrunner.paper.persist import checkpoint, restore
from botrunner.paper.venue import PaperVenue
from strategies.carry import CarryPosition, CarryState, FundingPrint

MARKET = r1_bot().market_spec
FLAGS = OperatorFlags(pause=True)


def _venue_state() -> bytes:
    venue = PaperVenue(MARKET, PaperConfig(), deposit_quote=10_000_000_000, oracle_price=150_000_000, now=1_700_000_000)
    venue.on_price(1_700_000_300, 151_000_000, 151_000_000)
    return checkpoint(venue)


def test_the_venue_is_embedded_as_its_json_and_comes_back_byte_for_byte() -> None:
    state = _venue_state()
    envelope = BotCheckpoint(venue=msgspec.Raw(state), funding_rate=5, day=19_675, day_start_equity=7, flags=FLAGS)
    data = msgspec.json.encode(envelope)
    assert state in data  # not base64: one encoding, and the blob stays readable with SQL's json functions
    back = decode_checkpoint(data, "alpha")
    assert (back.version, bytes(back.venue), back.flags, back.day) == (CHECKPOINT_VERSION, state, FLAGS, 19_675)
    assert restore(bytes(back.venue), MARKET, PaperConfig()).oracle == 151_000_000


def test_a_version_1_envelope_still_restores() -> None:
    state = _venue_state()
    old = {
        "version": 1,
        "venue": base64.b64encode(state).decode(),
        "funding_rate": 5,
        "day": 19_675,
        "day_start_equity": 7,
        "flags": {"pause": True, "reduce_only": False, "flatten": False},
    }
    back = decode_checkpoint(msgspec.json.encode(old), "alpha")
    assert (back.version, bytes(back.venue), back.flags, back.funding_rate) == (CHECKPOINT_VERSION, state, FLAGS, 5)


def test_a_live_bots_or_an_unknown_envelope_is_one_error_naming_the_bot() -> None:
    live = LiveCheckpoint(flags=FLAGS, day=1, day_start_equity=2, last_settle_ts=3)
    with pytest.raises(ValueError, match=r"^alpha: its checkpoint is not a paper bot's \(was it a live bot\?\)"):
        decode_checkpoint(msgspec.json.encode(live), "alpha")
    with pytest.raises(ValueError, match=r"^alpha: checkpoint version 7 is not 2 \(or 1\)$"):
        decode_checkpoint(b'{"version": 7}', "alpha")
    newer = BotCheckpoint(version=7, venue=msgspec.Raw(b"{}"), funding_rate=0, day=0, day_start_equity=0, flags=FLAGS)
    with pytest.raises(ValueError, match=r"^alpha: checkpoint version 7 is not 2 \(or 1\)$"):
        decode_checkpoint(msgspec.json.encode(newer), "alpha")  # every field of this version's, a later number
    with pytest.raises(ValueError, match=r"^alpha: its checkpoint is not a paper bot's"):
        decode_checkpoint(b"not json", "alpha")


def test_a_two_leg_bots_carry_engine_state_round_trips_through_the_envelope() -> None:
    """The stance, its clocks and the smoothed funding outlive a restart (a restarted bot must not exit inside its
    minimum hold nor re-enter inside its cooldown); an envelope without them (a grid bot's, or older) decodes."""
    carry = CarryState(
        position=CarryPosition.HEDGED,
        since_ts=1_700_000_000,
        adverse_since_ts=1_700_003_600,
        ewma=-1_234,
        prints=(FundingPrint(1_700_003_600, -1_234, 3_600),),
        last_funding_ts=1_700_003_600,
    )
    envelope = BotCheckpoint(
        venue=msgspec.Raw(_venue_state()), funding_rate=5, day=1, day_start_equity=7, flags=FLAGS, carry=carry
    )
    assert decode_checkpoint(msgspec.json.encode(envelope), "alpha").carry == carry
    plain = BotCheckpoint(venue=msgspec.Raw(_venue_state()), funding_rate=5, day=1, day_start_equity=7, flags=FLAGS)
    assert decode_checkpoint(msgspec.json.encode(plain), "alpha").carry is None

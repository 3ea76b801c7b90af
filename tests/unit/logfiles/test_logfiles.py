"""Per-bot log files: one JSON-lines file per bot, daily rotation and retention on an injected clock, no secrets."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botrunner import logfiles, logsetup
from botrunner.logfiles import OUTAGE_QUIET_S, LogFiles, _Stamper
from botrunner.logsetup import LEVEL_ENV, register_secret


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


class FakeClock:
    """Unix seconds under the test's control."""

    def __init__(self, start: str) -> None:
        self.now = _ts(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def set(self, text: str) -> None:
        self.now = _ts(text)

    def tick(self, seconds: float) -> float:
        with self._lock:
            self.now += seconds
            return self.now


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2024-03-10T12:00:00")


@pytest.fixture
def logs(tmp_path: Path, clock: FakeClock) -> Iterator[LogFiles]:
    files = LogFiles(tmp_path, level="DEBUG", clock=clock)
    yield files
    files.close()


@pytest.fixture
def isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Secrets are process-wide by design; keep this file's from redacting other tests' lines.
    monkeypatch.setattr(logsetup, "_secrets", logsetup._secrets)


def test_each_bot_writes_json_lines_with_timestamp_level_event_and_bot_to_its_own_file(
    logs: LogFiles, tmp_path: Path
) -> None:
    logs.for_bot("sol-grid").info("decision", band="inside", commands=2)
    logs.for_bot("btc_inf").warning("risk_state", state="REDUCE_ONLY")
    logs.supervisor().info("started", bots=2)

    (sol,) = _lines(tmp_path / "sol-grid.log")
    assert sol == {
        "timestamp": "2024-03-10T12:00:00.000000Z",
        "level": "info",
        "event": "decision",
        "bot": "sol-grid",
        "band": "inside",
        "commands": 2,
    }
    (btc,) = _lines(tmp_path / "btc_inf.log")
    assert (btc["bot"], btc["level"], btc["event"]) == ("btc_inf", "warning", "risk_state")
    (sup,) = _lines(tmp_path / "supervisor.log")
    assert (sup["bot"], sup["event"], sup["bots"]) == ("supervisor", "started", 2)


def test_a_bot_logger_cannot_write_as_or_into_another_bot(logs: LogFiles, tmp_path: Path) -> None:
    logs.for_bot("sol").bind(bot="eth").info("fill")
    logs.for_bot("sol").info("fill", bot="eth")
    assert [line["bot"] for line in _lines(tmp_path / "sol.log")] == ["sol", "sol"]
    assert not (tmp_path / "eth.log").exists()


def test_supervisor_lines_may_name_the_bot_they_are_about(logs: LogFiles, tmp_path: Path) -> None:
    logs.supervisor().bind(bot="sol").error("bot_crashed")
    logs.supervisor().info("tick")
    assert [line["bot"] for line in _lines(tmp_path / "supervisor.log")] == ["sol", "supervisor"]


def test_the_same_name_gives_the_same_logger_and_an_unused_logger_leaves_no_file(
    logs: LogFiles, tmp_path: Path
) -> None:
    assert logs.for_bot("sol") is logs.for_bot("sol")
    assert not (tmp_path / "sol.log").exists()


@pytest.mark.parametrize("name", ["", "..", "../etc", "a/b", "a\\b", "Sol", "sol.log", "sol\n", "supervisor"])
def test_names_that_are_not_plain_bot_names_are_refused(logs: LogFiles, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        logs.for_bot(name)


def test_level_filters_and_defaults_to_the_environment(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEVEL_ENV, "warning")
    with LogFiles(tmp_path / "env", clock=clock) as from_env, LogFiles(tmp_path / "info", clock=clock) as explicit:
        assert explicit.level == from_env.level  # both read the environment
        from_env.for_bot("sol").info("hidden")
        from_env.for_bot("sol").error("shown")
    assert [line["event"] for line in _lines(tmp_path / "env" / "sol.log")] == ["shown"]

    monkeypatch.delenv(LEVEL_ENV)
    with LogFiles(tmp_path / "default", clock=clock) as default:
        default.for_bot("sol").debug("hidden")
        default.for_bot("sol").info("shown")
    assert [line["event"] for line in _lines(tmp_path / "default" / "sol.log")] == ["shown"]


def test_bad_level_or_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOUD"):
        LogFiles(tmp_path, level="LOUD")
    with pytest.raises(ValueError, match="retention_days"):
        LogFiles(tmp_path, retention_days=0)


def test_first_line_of_a_new_utc_day_rotates_the_file_under_the_day_it_covers(
    logs: LogFiles, clock: FakeClock, tmp_path: Path
) -> None:
    log = logs.for_bot("sol")
    clock.set("2024-03-10T23:59:59.999999")
    log.info("last_of_day")
    clock.set("2024-03-11T00:00:00")
    log.info("first_of_day")

    assert [line["event"] for line in _lines(tmp_path / "sol.log.2024-03-10")] == ["last_of_day"]
    (today,) = _lines(tmp_path / "sol.log")
    assert (today["event"], today["timestamp"]) == ("first_of_day", "2024-03-11T00:00:00.000000Z")


def test_a_file_left_by_an_earlier_run_is_rotated_under_its_own_day(tmp_path: Path, clock: FakeClock) -> None:
    with LogFiles(tmp_path, clock=clock) as first_run:
        first_run.for_bot("sol").info("before_restart")
    clock.set("2024-03-13T08:00:00")
    with LogFiles(tmp_path, clock=clock) as second_run:
        second_run.for_bot("sol").info("after_restart")

    assert [line["event"] for line in _lines(tmp_path / "sol.log.2024-03-10")] == ["before_restart"]
    assert [line["event"] for line in _lines(tmp_path / "sol.log")] == ["after_restart"]


def test_a_restart_on_the_same_day_appends_to_the_current_file(tmp_path: Path, clock: FakeClock) -> None:
    for event in ("one", "two"):
        with LogFiles(tmp_path, clock=clock) as run:
            run.for_bot("sol").info(event)
    assert [line["event"] for line in _lines(tmp_path / "sol.log")] == ["one", "two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sol.log"]


def test_a_clock_stepping_back_over_midnight_never_rotates_backwards(
    logs: LogFiles, clock: FakeClock, tmp_path: Path
) -> None:
    log = logs.for_bot("sol")
    clock.set("2024-03-11T00:00:01")
    log.info("new_day")
    clock.set("2024-03-10T23:59:58")
    log.info("stepped_back")
    assert [line["event"] for line in _lines(tmp_path / "sol.log")] == ["new_day", "stepped_back"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sol.log"]


def test_rotation_deletes_only_this_name_s_files_older_than_retention(tmp_path: Path) -> None:
    clock = FakeClock("2024-03-30T23:00:00")
    keep = [
        "sol.log.2024-03-01",  # today 2024-03-31 minus 30 days: kept
        "sol.log.2024-03-29",
        "sol.log.2024-13-40",  # not a date: not ours
        "sol.log.2024-02-28.gz",
        "sol.log.old",
        "sol-2.log.2020-01-01",  # another bot
        "xsol.log.2020-01-01",
        "notes.txt",
    ]
    delete = ["sol.log.2024-02-29", "sol.log.2020-01-01"]
    for name in keep + delete:
        (tmp_path / name).write_text("{}\n")
    (tmp_path / "sol.log.2019-01-01").mkdir()  # a directory with our pattern is still not ours to delete

    with LogFiles(tmp_path, retention_days=30, clock=clock) as logs:
        logs.for_bot("sol").info("yesterday")
        clock.set("2024-03-31T00:00:05")
        logs.for_bot("sol").info("today")

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*keep, "sol.log", "sol.log.2024-03-30", "sol.log.2019-01-01"]
    )


def test_retention_is_configurable(tmp_path: Path) -> None:
    clock = FakeClock("2024-03-10T10:00:00")
    for day in ("2024-03-07", "2024-03-08", "2024-03-09"):
        (tmp_path / f"sol.log.{day}").write_text("{}\n")
    with LogFiles(tmp_path, retention_days=2, clock=clock) as logs:
        logs.for_bot("sol").info("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sol.log", "sol.log.2024-03-08", "sol.log.2024-03-09"]


def test_concurrent_threads_never_interleave_lines_or_lose_them_across_a_rotation(
    tmp_path: Path,
) -> None:
    clock = FakeClock("2024-03-10T23:59:59")
    threads_per_bot, lines_per_thread = 6, 400
    bots = ["alpha", "beta"]
    payload = "x" * 2000  # long lines: a torn write would show as invalid JSON
    barrier = threading.Barrier(threads_per_bot * len(bots))

    with LogFiles(tmp_path, clock=clock) as logs:

        def work(bot: str, thread: int) -> None:
            log = logs.for_bot(bot)
            barrier.wait()
            for i in range(lines_per_thread):
                clock.tick(0.001)  # crosses midnight a fifth of the way through
                log.info("line", thread=thread, i=i, payload=payload)

        workers = [threading.Thread(target=work, args=(b, t)) for b in bots for t in range(threads_per_bot)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    for bot in bots:
        before = _lines(tmp_path / f"{bot}.log.2024-03-10")
        after = _lines(tmp_path / f"{bot}.log")
        assert before and after
        assert all(line["timestamp"].startswith("2024-03-10") for line in before)
        assert all(line["timestamp"].startswith("2024-03-11") for line in after)
        every = before + after
        assert {line["bot"] for line in every} == {bot}
        assert sorted((line["thread"], line["i"]) for line in every) == [
            (t, i) for t in range(threads_per_bot) for i in range(lines_per_thread)
        ]
        stamps = [line["timestamp"] for line in every]
        assert stamps == sorted(stamps)  # written in clock order under the file's lock


def test_close_flushes_and_later_lines_are_dropped_not_raised(logs: LogFiles, tmp_path: Path) -> None:
    log = logs.for_bot("sol")
    log.info("kept")
    logs.close()
    log.info("after_close")
    assert [line["event"] for line in _lines(tmp_path / "sol.log")] == ["kept"]
    with pytest.raises(RuntimeError, match="closed"):
        logs.for_bot("eth")


def test_several_log_directories_in_one_process_are_independent(tmp_path: Path, clock: FakeClock) -> None:
    with (
        LogFiles(tmp_path / "a", level="ERROR", clock=clock) as a,
        LogFiles(tmp_path / "b", level="DEBUG", clock=clock) as b,
    ):
        a.for_bot("sol").info("filtered_in_a")
        b.for_bot("sol").info("kept_in_b")
    assert not (tmp_path / "a" / "sol.log").exists()
    assert [line["event"] for line in _lines(tmp_path / "b" / "sol.log")] == ["kept_in_b"]


class _Shows:
    """An object whose repr is the secret: reaches the line only through the renderer's repr fallback."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@pytest.mark.usefixtures("isolated_secrets")
def test_registered_secrets_never_reach_a_file_under_any_key_nesting_or_exception(
    logs: LogFiles, tmp_path: Path
) -> None:
    # Built at run time: no key-shaped literal in the repository.
    base58_key = "".join("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"[(i * 7) % 58] for i in range(88))
    key_bytes = [(i * 37 + 11) % 256 for i in range(64)]
    byte_array_key = json.dumps(key_bytes, separators=(",", ":"))
    register_secret(base58_key)
    register_secret(byte_array_key)

    log = logs.for_bot("sol")
    log.info(f"loaded {base58_key}", wallet=base58_key)
    log.info("nested", cfg={"rpc": {"auth": [1, base58_key]}, base58_key: "as a key"})
    log.info("file_text", text=byte_array_key, keypair_bytes=key_bytes, raw=bytes(key_bytes))
    log.info("as_tuple", value=tuple(key_bytes), obj=_Shows(byte_array_key))
    try:
        raise ValueError(f"could not parse key {base58_key}")
    except ValueError:
        log.exception("parse_failed")

    text = (tmp_path / "sol.log").read_text(encoding="utf-8")
    assert base58_key not in text
    assert byte_array_key not in text
    assert json.dumps(key_bytes) not in text  # the list spelling json.dumps gives a loaded keypair
    assert text.count("[redacted]") >= 10
    lines = _lines(tmp_path / "sol.log")  # still valid JSON lines
    assert lines[2]["keypair_bytes"] == "[redacted]"
    assert lines[2]["raw"] == "[redacted]"
    assert "ValueError: could not parse key [redacted]" in lines[4]["exception"]


def test_key_based_redaction_still_applies(logs: LogFiles, tmp_path: Path) -> None:
    logs.for_bot("sol").info("loaded", private_key="whatever-it-is", mnemonic_words="a b c")
    (line,) = _lines(tmp_path / "sol.log")
    assert line["private_key"] == line["mnemonic_words"] == "[redacted]"


# Times a few seconds apart around one base, many just below a whole second (x.9999996 rounds up into the next
# second): the sequences where a cache keyed on the wrong second would hand out a stale prefix.
_offsets = st.floats(min_value=-3, max_value=3, allow_nan=False) | st.builds(
    lambda shift, frac: shift + frac,
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 0.0000004, 0.0000005, 0.4999995, 0.5, 0.9999994, 0.9999995, 0.9999996]),
)


@given(st.integers(min_value=0, max_value=4 * 10**9), st.lists(_offsets, min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_the_cached_stamp_equals_datetime_s_own_for_any_sequence_of_times(base: int, offsets: list[float]) -> None:
    stamp = _Stamper()
    for ts in (base + offset for offset in offsets):
        assert stamp(ts) == dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_buffered_files_hold_info_lines_but_write_warnings_at_once_in_order(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sol.log"
    with LogFiles(tmp_path, clock=clock, flush_interval_s=60) as logs:  # the flusher will not run in this test
        log = logs.for_bot("sol")
        log.info("first")
        log.info("second")
        assert not path.exists() or path.read_text(encoding="utf-8") == ""
        log.warning("trouble")  # flushes everything before it too, in order
        assert [line["event"] for line in _lines(path)] == ["first", "second", "trouble"]
        log.info("third")
        assert len(_lines(path)) == 3
        logs.flush()
        assert [line["event"] for line in _lines(path)][-1] == "third"
        log.info("fourth")
    assert [line["event"] for line in _lines(path)] == ["first", "second", "trouble", "third", "fourth"]  # close


def test_the_flusher_thread_writes_buffered_lines_within_its_interval(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sol.log"
    with LogFiles(tmp_path, clock=clock, flush_interval_s=0.02) as logs:
        logs.for_bot("sol").info("waiting")
        deadline = time.monotonic() + 5
        while not (path.exists() and path.read_text(encoding="utf-8")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [line["event"] for line in _lines(path)] == ["waiting"]


@pytest.mark.parametrize("interval", [-1.0, 61.0, float("nan")])
def test_an_impossible_flush_interval_is_refused(tmp_path: Path, interval: float) -> None:
    with pytest.raises(ValueError, match="flush_interval_s"):
        LogFiles(tmp_path, flush_interval_s=interval)


def test_values_json_has_no_type_for_are_rendered_and_non_string_keys_still_render(
    logs: LogFiles, tmp_path: Path
) -> None:
    log = logs.for_bot("sol")
    log.info("odd", where=Path("/x/y"), table={1: "one"}, big=2**130)
    (line,) = _lines(tmp_path / "sol.log")
    assert line["where"] == repr(Path("/x/y"))
    assert line["table"] == {"1": "one"}  # json.dumps's spelling of an int key
    assert line["big"] == 2**130


class _Disk:
    """A disk under the test's control, standing in for the log files' ``_open_append``: while ``full`` every write
    fails with ENOSPC; ``fail_every=n`` fails every n-th write only (a flapping, nearly full disk); ``room=k`` takes
    k more bytes, then is full (a write torn half-way)."""

    def __init__(self) -> None:
        self.full = False
        self.fail_every = 0
        self.room: int | None = None
        self.writes = 0
        self.data = b""  # what reached the disk

    def open(self, _path: Path) -> _DiskFile:
        return _DiskFile(self)

    @property
    def lines(self) -> list[str]:
        return self.data.decode().splitlines()


class _DiskFile:
    def __init__(self, disk: _Disk) -> None:
        self.disk = disk

    def write(self, data: memoryview) -> int:
        disk = self.disk
        disk.writes += 1
        if disk.full or (disk.fail_every and disk.writes % disk.fail_every == 0) or disk.room == 0:
            raise OSError(28, "No space left on device")
        taken = bytes(data) if disk.room is None else bytes(data[: disk.room])
        if disk.room is not None:
            disk.room -= len(taken)
        disk.data += taken
        return len(taken)

    def close(self) -> None:
        pass


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> _Disk:
    fake = _Disk()
    monkeypatch.setattr(logfiles, "_open_append", fake.open)
    return fake


def _events(disk: _Disk) -> list[str]:
    return [json.loads(line)["event"] for line in disk.lines if line]


def test_a_log_that_cannot_be_written_never_fails_the_caller_and_says_so_once_then_once_when_over(
    tmp_path: Path, clock: FakeClock, disk: _Disk, capsys: pytest.CaptureFixture[str]
) -> None:
    with LogFiles(tmp_path, clock=clock, flush_interval_s=60) as logs:
        log = logs.for_bot("bot")
        disk.full = True
        for i in range(3):
            log.info("decision", i=i)  # buffered
            log.warning("alert", i=i)  # flushed at once: fails, dropped with the line before it, no exception
            clock.tick(1)
        logs.flush()
        assert capsys.readouterr().err == (
            f"botrunner: cannot write {tmp_path / 'bot.log'}: No space left on device; dropping log lines in "
            f"{tmp_path} until writing works again\n"
        )
        disk.full = False
        log.warning("back")  # written, but 1 s after a failure: the same outage may not be over
        assert capsys.readouterr().err == ""
        clock.tick(OUTAGE_QUIET_S)
        log.warning("later")
        assert capsys.readouterr().err == (
            f"botrunner: writing log files in {tmp_path} again; 6 lines could not be written since "
            "2024-03-10T12:00:00Z\n"
        )
        assert _events(disk) == ["back", "later"]
        disk.full = True
        log.info("unflushed")
    # close() could not flush either: said (a new outage), not raised
    assert capsys.readouterr().err.startswith(f"botrunner: cannot write {tmp_path / 'bot.log'}: No space left")


def test_a_flapping_disk_is_one_outage_not_a_notice_per_flap(
    tmp_path: Path, clock: FakeClock, disk: _Disk, capsys: pytest.CaptureFixture[str]
) -> None:
    disk.fail_every = 2  # one write goes through, the next fails, for 1000 lines over 10 s
    with LogFiles(tmp_path, clock=clock) as logs:
        log = logs.for_bot("bot")
        for i in range(1000):
            log.info("decision", i=i)
            clock.tick(0.01)
        flapping = capsys.readouterr().err.splitlines()
        assert len(flapping) == 1 and "cannot write" in flapping[0]
        disk.fail_every = 0
        clock.tick(OUTAGE_QUIET_S)
        log.info("steady")
        (over,) = capsys.readouterr().err.splitlines()
        assert over.endswith("again; 500 lines could not be written since 2024-03-10T12:00:00Z")
    assert len(disk.lines) == 501  # every other line, and the last one


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.floats(min_value=-5.0, max_value=90.0, allow_nan=False)), min_size=1, max_size=80
    )
)
def test_outage_notices_alternate_come_at_most_once_a_quiet_period_and_count_every_lost_line(
    steps: list[tuple[bool, float]],
) -> None:
    """Any pattern of failing and working writes on any clock: the notices alternate (cannot write, again, cannot
    write...), the lines they report lost are exactly the lines that failed, and on a clock that never steps back
    an outage is said over exactly when a write works ``OUTAGE_QUIET_S`` after its last failure, so a disk failing
    and working at any rhythm starts at most one outage per quiet period."""
    clock = FakeClock("2024-03-10T12:00:00")
    start = clock.now
    outage = logfiles._Outage(Path("/logs"), clock)
    monotonic = all(tick >= 0 for _, tick in steps)
    said: list[str] = []
    failed = 0
    last_failure: float | None = None  # while an outage is open (the model's own account)
    for fails, tick in steps:
        clock.now += tick
        with contextlib.redirect_stderr(io.StringIO()) as err:
            if fails:
                outage.failed(Path("/logs/bot.log"), OSError(28, "No space left on device"), 1)
            else:
                outage.written()
        new = err.getvalue().splitlines()
        said += new
        if not monotonic:
            failed += fails
        elif fails:
            failed += 1
            assert [("cannot write" in line) for line in new] == ([True] if last_failure is None else [])
            last_failure = clock.now
        else:
            over = last_failure is not None and clock.now - last_failure >= OUTAGE_QUIET_S
            assert [("again" in line) for line in new] == ([True] if over else [])
            last_failure = None if over else last_failure
    assert [("cannot write" in line) for line in said] == [i % 2 == 0 for i in range(len(said))]
    reported = sum(int(line.split("again; ")[1].split(" lines")[0]) for line in said[1::2])
    assert reported + (outage._lost if len(said) % 2 else 0) == failed
    if monotonic:
        assert len(said[::2]) <= 1 + (clock.now - start) / OUTAGE_QUIET_S


def test_a_symlink_where_a_log_file_should_be_is_never_written_through(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("someone else's file\n")
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    (logs_dir / "sol.log").symlink_to(victim)
    (logs_dir / "eth.log.2024-03-09").symlink_to(victim)  # a rotation appending to an existing day's file
    (logs_dir / "eth.log").write_text(json.dumps({"timestamp": "2024-03-09T10:00:00.000000Z", "event": "x"}) + "\n")
    with LogFiles(logs_dir, clock=clock) as logs:
        logs.for_bot("sol").info("decision")
        logs.for_bot("eth").info("decision")
    assert victim.read_text() == "someone else's file\n"
    assert "sol.log: Too many levels of symbolic links; dropping log lines" in capsys.readouterr().err
    assert [line["event"] for line in _lines(logs_dir / "eth.log")] == ["x", "decision"]  # kept on, not rotated


@pytest.fixture
def umask_000() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_000")
def test_log_files_and_their_directory_are_owner_only_whatever_the_umask(tmp_path: Path, clock: FakeClock) -> None:
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir(mode=0o777)
    old = logs_dir / "eth.log"
    old.write_text(json.dumps({"timestamp": "2024-03-10T10:00:00.000000Z", "event": "x"}) + "\n")
    old.chmod(0o666)
    with LogFiles(tmp_path / "new" / "logs", clock=clock) as fresh:
        fresh.for_bot("sol").info("decision")
    assert stat.S_IMODE((tmp_path / "new" / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "logs" / "sol.log").stat().st_mode) == 0o600
    with LogFiles(logs_dir, clock=clock) as logs:
        logs.for_bot("eth").info("decision")  # an existing file is made owner-only when opened
        assert stat.S_IMODE(old.stat().st_mode) == 0o600
        clock.set("2024-03-11T00:00:01")
        logs.for_bot("eth").info("next_day")
    assert stat.S_IMODE((logs_dir / "eth.log.2024-03-10").stat().st_mode) == 0o600
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_a_line_torn_by_a_crash_does_not_swallow_the_next_one(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sol.log"
    path.write_text(json.dumps({"timestamp": "2024-03-10T10:00:00.000000Z", "event": "whole"}) + '\n{"timest')
    with LogFiles(tmp_path, clock=clock) as logs:
        logs.for_bot("sol").info("after")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"timest' and json.loads(lines[2])["event"] == "after"


def test_a_write_torn_by_a_full_disk_counts_the_lines_lost_and_the_next_line_starts_whole(
    tmp_path: Path, clock: FakeClock, disk: _Disk, capsys: pytest.CaptureFixture[str]
) -> None:
    with LogFiles(tmp_path, clock=clock, flush_interval_s=60) as logs:
        log = logs.for_bot("sol")
        log.info("one")
        log.info("two")
        log.info("three")
        one = '{"bot":"sol","event":"one","level":"info","timestamp":"2024-03-10T12:00:00.000000Z"}\n'
        disk.room = len(one) + 20  # "one" fits whole, "two" only in part
        logs.flush()
        disk.room = None
        clock.tick(OUTAGE_QUIET_S)
        log.warning("four")
    first, torn, last = disk.lines  # the torn part of "two" is ended by a newline before "four"
    assert json.loads(first)["event"] == "one" and torn == '{"bot":"sol","event"'
    assert json.loads(last)["event"] == "four"
    assert "again; 2 lines could not be written" in capsys.readouterr().err

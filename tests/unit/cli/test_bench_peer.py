"""``make bench-peer``'s driver: its refusals and how it reads each side's answer (the sides themselves are too
slow for the suite: NautilusTrader takes ~90 CPU s on R1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from botrunner.cli import bench_peer


def test_bench_peer_when_requote_not_integers_then_exit_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_peer.main(["--requote", "10,abc"]) == 2
    assert "--requote '10,abc'" in capsys.readouterr().err


def test_bench_peer_when_pairs_zero_then_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_peer.main(["--pairs", "0"]) == 2
    assert "--pairs" in capsys.readouterr().err


def test_bench_peer_when_no_peer_interpreter_then_exit_2_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the data checks come first; point them at files that exist so the interpreter check is the one that fails
    monkeypatch.setattr(bench_peer, "R1_SHARED_CANDLES", Path(__file__))
    monkeypatch.setattr(bench_peer, "PEER_SCRIPT", Path(__file__))
    missing = tmp_path / "no-such-python"
    assert bench_peer.main(["--peer-python", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_side_when_last_line_is_json_then_read() -> None:
    answer = bench_peer._side([sys.executable, "-c", "print('chatter'); print('{\"cpu_s\": 1.5}')"], "fake side")
    assert answer == {"cpu_s": 1.5}


def test_side_when_exit_nonzero_then_error_with_its_stderr_tail() -> None:
    with pytest.raises(bench_peer.BenchPeerError, match=r"fake side: exit 3: .*boom"):
        bench_peer._side([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"], "fake side")


def test_side_when_no_json_then_error_naming_the_side() -> None:
    with pytest.raises(bench_peer.BenchPeerError, match="fake side: no JSON summary"):
        bench_peer._side([sys.executable, "-c", "print('not json')"], "fake side")

#!/usr/bin/env bash
# Create .venv-peer: NautilusTrader for the peer benchmark (`make bench-peer`). It lives apart from .venv because
# NautilusTrader wants Python 3.12 and pandas < 3 (shared/bench/README.md), and botrunner must not depend on it.
# The interpreter: $1, else python3.12 on PATH, else pyenv's newest 3.12.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${2:-.venv-peer}"
PY="${1:-}"
if [ -z "$PY" ]; then
  # a pyenv shim can exist and still refuse to run (version not selected), so each candidate must actually run
  for candidate in python3.12 $(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python 2>/dev/null | sort -rV); do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then
      PY="$candidate"
      break
    fi
  done
fi
if [ -z "$PY" ] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
  echo "ensure_peer_venv: no Python 3.12 found (pass PEER_PY=/path/to/python3.12)" >&2
  exit 2
fi
want="$("$PY" -c 'import sys; print(sys.version.split()[0])') nautilus_trader pandas<3"
if [ "$(cat "$VENV/.installed" 2>/dev/null || true)" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
echo "setting up $VENV (NautilusTrader, the peer benchmark) with $("$PY" --version 2>&1) ..."
rm -rf "$VENV"
"$PY" -m venv "$VENV"
log="$VENV/install.log"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check nautilus_trader "pandas<3" >"$log" 2>&1; then
  tail -30 "$log" >&2
  echo "ensure_peer_venv: installing NautilusTrader failed (full log: $log)" >&2
  exit 1
fi
echo "$want" > "$VENV/.installed"

#!/usr/bin/env bash
# Create or refresh .venv for the interpreter $1 (default python3). Rebuilt from scratch when the interpreter's
# version or pyproject.toml changed since the last install, so `make test PY=python3.12` just works.
set -euo pipefail
PY="${1:-python3}"
VENV="${2:-.venv}"
cd "$(dirname "$0")/.."
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "ensure_venv: interpreter '$PY' not found (set PY=/path/to/python3.11+)" >&2
  exit 2
fi
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "ensure_venv: $PY is $("$PY" --version 2>&1); botrunner needs Python >= 3.11" >&2
  exit 2
}
want="$("$PY" -c 'import sys; print(sys.version.split()[0])') $(sha256sum pyproject.toml | cut -c1-16)"
have="$(cat "$VENV/.installed" 2>/dev/null || true)"
if [ "$want" = "$have" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
echo "setting up $VENV with $("$PY" --version 2>&1) ..."
rm -rf "$VENV"
"$PY" -m venv "$VENV"
log="$VENV/install.log"
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
       && "$VENV/bin/python" -m pip install --disable-pip-version-check -e '.[dev,arb]'; } >"$log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40 >&2
  echo "ensure_venv: installing dependencies failed (full log: $log)" >&2
  exit 1
fi
echo "$want" > "$VENV/.installed"

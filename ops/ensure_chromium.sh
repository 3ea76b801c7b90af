#!/usr/bin/env bash
# The report's browser test (tests/integration/test_backtest_report_browser.py) renders report.html in the system's Chromium:
# Debian's `chromium` package, driven by playwright from the dev dependencies. No browser is ever downloaded
# (never `playwright install`). Install it when it is missing and we are root on a Debian-like system; otherwise
# say why on stderr and carry on: setup never fails for it, the test then skips and says Chromium is absent.
set -uo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure_chromium: $CHROMIUM is missing and this is not root, so it is not installed; the report's browser" \
    "test will skip (install it with: sudo apt-get install chromium)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: $CHROMIUM is missing and there is no apt-get; the report's browser test will skip" >&2
  exit 0
fi
echo "ensure_chromium: installing Debian's chromium for the report's browser test (apt-get, once) ..." >&2
log="$(mktemp)"
if { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } >"$log" 2>&1 \
   && [ -x "$CHROMIUM" ]; then
  echo "ensure_chromium: installed $("$CHROMIUM" --version 2>/dev/null | tail -1)" >&2
  rm -f "$log"
else
  tail -20 "$log" >&2
  echo "ensure_chromium: apt-get could not install chromium (full log: $log); the report's browser test will skip" >&2
fi
exit 0

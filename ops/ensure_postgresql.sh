#!/usr/bin/env bash
# The test of a study shared through PostgreSQL (tests/integration/test_optimize_postgres.py) starts a throwaway server from
# Debian's `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/*/bin; no service is enabled or used).
# Install it when it is missing and we are root on a Debian-like system; otherwise say why on stderr and carry on:
# setup never fails for it, the test then skips outside CI (in CI, where CI is set, it fails instead).
set -uo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure_postgresql: PostgreSQL's initdb is missing and this is not root, so it is not installed; the shared" \
    "study test will skip (install it with: sudo apt-get install postgresql)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_postgresql: initdb is missing and there is no apt-get; the shared study test will skip" >&2
  exit 0
fi
echo "ensure_postgresql: installing Debian's postgresql for the shared study test (apt-get, once) ..." >&2
log="$(mktemp)"
if { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >"$log" 2>&1 \
   && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "ensure_postgresql: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)" >&2
  rm -f "$log"
else
  tail -20 "$log" >&2
  echo "ensure_postgresql: apt-get could not install postgresql (full log: $log); the shared study test will skip" >&2
fi
exit 0

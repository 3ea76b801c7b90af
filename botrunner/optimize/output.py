"""Writing a search's files: each whole or not at all (a temporary file in the same directory, then a rename)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPORT = "report.html"
BEST_YAML = "best.yaml"
SUMMARY = "summary.json"
WORKER_LOGS = "workers"


def write_files(out: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``name -> text`` into ``out``; a file is replaced only once its new text is complete."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        tmp = out / f".{name}.{os.getpid()}.tmp"  # the umask's mode, like the backtest's files
        try:
            with tmp.open("w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            os.replace(tmp, out / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(out / name)
    return written

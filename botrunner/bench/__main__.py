"""``python -m botrunner.bench``."""

from botrunner.bench.main import main

main()

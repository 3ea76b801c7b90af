import sys

from botrunner.cli import main

sys.exit(main())

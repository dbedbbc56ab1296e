"""``python -m safes3``: the command line."""

import sys

from safes3._cli._main import main

sys.exit(main())

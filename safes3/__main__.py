"""``python -m safes3``: the command line."""

import sys

from safes3._cli import main

sys.exit(main())

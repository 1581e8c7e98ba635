"""``python -m binary_semantic_cache``: the ``bsc-cache`` command line."""

import sys

from binary_semantic_cache.cli import main

sys.exit(main())

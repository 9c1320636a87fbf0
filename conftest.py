"""Root pytest configuration: notebooks executed by the test suite run at reduced size."""

import os

os.environ.setdefault("NQS_QUICK", "1")

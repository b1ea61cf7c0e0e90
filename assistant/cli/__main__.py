"""`python -m assistant.cli ...`: the same as `gdpr-assistant ...`."""

import sys

from . import main

sys.exit(main())

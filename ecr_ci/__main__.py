"""``python -m ecr_ci`` is the ``ecr-ci`` command."""

import sys

from .cli import main

sys.exit(main())

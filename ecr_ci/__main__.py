"""``python -m ecr_ci`` is the ``ecr-ci`` command."""

import sys

from ecr_ci.cli import main

sys.exit(main())

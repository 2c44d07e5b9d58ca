"""`python -m trial_activation.generator ...` (the same as `trial-activation generate ...`)."""

import sys

from trial_activation.generator.cli import main

sys.exit(main())

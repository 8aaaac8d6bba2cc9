"""``python -m mlplab`` runs the CLI (and is what ``torchrun -m mlplab`` launches)."""

import sys

from mlplab.cli.main import main

sys.exit(main())

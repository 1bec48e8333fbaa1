import sys

from helpers.mutants.cli import main

sys.exit(main())

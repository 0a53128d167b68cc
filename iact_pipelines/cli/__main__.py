import sys

from iact_pipelines.cli import main

sys.exit(main())

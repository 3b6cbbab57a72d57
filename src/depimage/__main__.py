import sys

from depimage.doors.cli import main

sys.exit(main())

import sys

from cidx.daemon.server import main

sys.exit(main())

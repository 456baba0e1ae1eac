import sys

from domuchet.cli import main

sys.exit(main())

import sys

from stack.grafana.build import main

sys.exit(main())

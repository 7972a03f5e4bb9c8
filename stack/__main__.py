import sys

from stack.up import main

sys.exit(main())

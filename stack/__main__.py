import sys

from stack.backups.cli import COMMANDS

if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
    from stack.backups.cli import main as backups_main

    sys.exit(backups_main(sys.argv[1:]))

from stack.drill.cli import COMMANDS as DRILL_COMMANDS  # noqa: E402

if len(sys.argv) > 1 and sys.argv[1] in DRILL_COMMANDS:
    from stack.drill.cli import main as drill_main

    sys.exit(drill_main(sys.argv[1:]))

from stack.up import main  # noqa: E402

sys.exit(main())

import sys

if sys.argv[1:2] == ["user"]:
    from alert_webhook.cli.operators import main as user_main

    sys.exit(user_main(sys.argv[2:]))
if sys.argv[1:2] == ["incidents"]:
    from alert_webhook.cli.incidents import main as incidents_main

    sys.exit(incidents_main(sys.argv[2:]))
if sys.argv[1:2] == ["reports"]:
    from alert_webhook.cli.reports import main as reports_main

    sys.exit(reports_main(sys.argv[2:]))

from alert_webhook.cli.serve import main

sys.exit(main())

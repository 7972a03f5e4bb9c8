import sys

from alert_webhook.serve import main

sys.exit(main())

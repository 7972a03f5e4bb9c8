"""The environment variables the webhook reads: its secrets and the store's URL
(never from a committed file). A module of names only, so a command line can
name them without loading the settings."""

TOKEN_ENV = "ALERT_WEBHOOK_TOKEN"
DATABASE_URL_ENV = "ALERT_WEBHOOK_DATABASE_URL"
SECRET_KEY_ENV = "ALERT_WEBHOOK_SECRET_KEY"

"""The Grafana dashboards as code: `python -m stack.grafana` writes grafana/dashboards/.

Built with grafana-foundation-sdk, Grafana's own generated types, so the JSON has
the structure Grafana expects; the thresholds come from rules/src/params.yml, so
a dashboard's lines move with the alerts. `--check` fails when the committed JSON
is not what the code builds.
"""

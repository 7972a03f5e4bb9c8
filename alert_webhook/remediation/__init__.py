"""Automated remediation: playbooks that pick recovery actions for firing alerts.

- `playbooks.py`: the playbook file (matchers → ordered actions, limits), loaded
  with every error at once; first matching playbook per firing alert.
- `templates.py`: label values into action parameters, each value checked first.
- `actions/`: one module per action, each a typed parameter model and one
  `run`; `builtin_actions()` lists them, and the factory's registry
  (`app/actions.py`) adds failover's, bound to its chains.
- `guardrails.py`: pure decisions over the recorded attempts (cooldown, budget,
  one at a time, blast radius, precondition, dry run).
- `verify.py`: the Prometheus client and the questions asked of it: is the
  alert's condition gone after a step (and until when to keep asking), does a
  playbook's precondition hold. `lag.py`: how long an expression can lag
  behind a fix, from rule text and intervals.
- `escalation.py`: what people hear when a run ends, written with its ending.
- `runner.py`: the `remediation` loop's pass: claim a run, render, judge, act,
  check, record. `preview.py`: the preview, what a payload would set off (nothing
  run, nothing stored), for `POST /api/plan`.
- `runs.py`: the run store (`RunStore`): runs and steps, planned with the firing state
  change (`RemediationPlanner`), claimed under a lease, recorded;
  `run_notices.py` what a run tells people, written in its final transaction;
  `states.py` the run, approval and step states.
"""

"""ansible: one Ansible module, or one playbook of `fleet.playbooks_dir`, on the
fleet host the alert names (the runner resolves it from the inventory first).

```yaml
- action: ansible
  params:
    module: ansible.builtin.systemd_service
    args: {name: "{labels.service}", state: restarted}
- action: ansible
  params:
    playbook: restart-demo.yml        # a plain file name in fleet.playbooks_dir
    vars: {service: "{labels.service}"}
```

Arguments and variables are data: a label value reaches them only through
`{labels.NAME}` and only when it is one safe word (letters, digits, `._:-`), and
Ansible gets every string tagged `!unsafe`, so nothing in them is templated; a
template marker written in the playbook file is refused when it is loaded. A
module that runs a shell (`shell`, `raw`, `script`, `expect`) takes no labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from alert_webhook.fleet.executor import (
    CONNECTION_VARS,
    MODULE_NAME,
    PLAYBOOK_NAME,
    ModuleJob,
    PlaybookJob,
    data_problems,
)
from alert_webhook.remediation.actions.base import (
    SAFE_WORD,
    Action,
    ActionParams,
    ActionResult,
    Boundaries,
)
from alert_webhook.remediation.actions.on_host import run_on_host
from alert_webhook.remediation.templates import labels_used

# Modules that hand their arguments to a shell or run them as a script.
SHELL_MODULES = frozenset(
    f"{prefix}{name}"
    for name in ("shell", "raw", "script", "expect")
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
)


class AnsibleParams(ActionParams):
    module: str | None = Field(default=None, pattern=rf"^{MODULE_NAME.pattern}$")
    args: dict[str, Any] = Field(default_factory=dict)
    playbook: str | None = Field(default=None, pattern=rf"^{PLAYBOOK_NAME.pattern}$")
    vars: dict[str, Any] = Field(default_factory=dict)

    label_patterns: ClassVar[dict[str, str]] = {"args": SAFE_WORD, "vars": SAFE_WORD}

    @model_validator(mode="after")
    def _one_job(self) -> AnsibleParams:
        if (self.module is None) == (self.playbook is None):
            raise ValueError("give exactly one of module (with args) and playbook (with vars)")
        if self.module is None and self.args:
            raise ValueError("args go with a module; a playbook takes vars")
        if self.playbook is None and self.vars:
            raise ValueError("vars go with a playbook; a module takes args")
        problems = data_problems(self.args, "args") + data_problems(self.vars, "vars")
        problems += [
            f"vars.{name}: Ansible's own variables would override the inventory's connection"
            for name in self.vars
            if name.startswith(CONNECTION_VARS)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def placeholder_problems(cls, params: Mapping[str, Any]) -> list[str]:
        module = params.get("module")
        if module in SHELL_MODULES and labels_used(params.get("args")):
            return [f"args: {module} runs a shell, so it takes no {{labels.NAME}} placeholders"]
        return []

    @classmethod
    def binds_host(cls, params: Mapping[str, Any]) -> bool:
        return True

    def job(self) -> ModuleJob | PlaybookJob:
        if self.module is not None:
            return ModuleJob(self.module, self.args)
        assert self.playbook is not None
        return PlaybookJob(self.playbook, self.vars)


def run(params: AnsibleParams, timeout: float, ctx: Boundaries) -> ActionResult:
    return run_on_host(params.job(), timeout, ctx)


ACTION = Action("ansible", AnsibleParams, run)

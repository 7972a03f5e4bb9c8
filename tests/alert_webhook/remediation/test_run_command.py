"""actions/run_command.py on real processes: argv only, env allowlist, timeouts
that kill the whole process group, a bounded output tail."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError
from support.procs import wait_until

from alert_webhook.remediation.actions.base import OUTPUT_TAIL_BYTES, ActionOutcome, Boundaries
from alert_webhook.remediation.actions.run_command import RunCommandParams, run

PY = sys.executable


class StepClock:
    """Moves one second each time it is read: durations come from the clock given."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def params(*argv: str, **kw: object) -> RunCommandParams:
    return RunCommandParams.model_validate({"argv": list(argv), **kw})


@pytest.mark.integration
def test_success_keeps_exit_status_output_and_duration_from_the_clock() -> None:
    result = run(
        params(PY, "-c", "import sys; print('restarted', sys.argv[1])", "demo"),
        10,
        Boundaries(monotonic=StepClock()),
    )
    assert result.outcome is ActionOutcome.SUCCEEDED
    assert (result.status, result.output, result.detail) == (0, "restarted demo\n", "")
    assert result.duration == 1.0


@pytest.mark.integration
def test_a_nonzero_exit_fails_with_stderr_in_the_tail() -> None:
    code = "import sys; sys.stderr.write('no such unit\\n'); sys.exit(3)"
    result = run(params(PY, "-c", code), 10, Boundaries())
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, 3)
    assert result.output == "no such unit\n"
    assert result.detail == "exit status 3"


@pytest.mark.integration
def test_a_command_killed_by_a_signal_says_so() -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    result = run(params(PY, "-c", code), 10, Boundaries())
    assert (result.outcome, result.status, result.detail) == (
        ActionOutcome.FAILED,
        -15,
        "killed by signal 15",
    )


@pytest.mark.integration
def test_listed_exit_codes_count_as_success() -> None:
    result = run(params("/bin/false", success_exit_codes=[0, 1]), 10, Boundaries())
    assert (result.outcome, result.status) == (ActionOutcome.SUCCEEDED, 1)


@pytest.mark.integration
def test_arguments_reach_the_program_verbatim_never_through_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = [f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", "a\nb", "*"]
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    result = run(params(PY, "-c", code, *hostile), 10, Boundaries(env={}))
    assert result.outcome is ActionOutcome.SUCCEEDED
    assert json.loads(result.output) == hostile
    assert not marker.exists()


@pytest.mark.integration
def test_only_allowed_environment_variables_reach_the_command() -> None:
    env = {"KEEP": "yes", "SECRET_TOKEN": "hunter2", "PATH": "/usr/bin:/bin"}
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    result = run(params(PY, "-c", code, env=["KEEP", "ABSENT"]), 10, Boundaries(env=env))
    seen = json.loads(result.output)
    seen.pop("LC_CTYPE", None)  # the interpreter may set its own locale
    assert seen == {"KEEP": "yes"}


@pytest.mark.integration
def test_the_command_reads_no_input_and_starts_in_its_own_session() -> None:
    code = "import os, sys; print(sys.stdin.read() == '', os.getsid(0) == os.getpid())"
    result = run(params(PY, "-c", code), 10, Boundaries())
    assert result.output == "True True\n"


@pytest.mark.integration
def test_a_timeout_kills_the_whole_process_group() -> None:
    # The command starts a grandchild and waits; both must be gone afterwards.
    code = (
        "import subprocess, sys, time;"
        f"child = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(60)']);"
        "print(child.pid, flush=True); time.sleep(60)"
    )
    result = run(params(PY, "-c", code), 1.0, Boundaries())
    assert result.outcome is ActionOutcome.TIMED_OUT
    assert result.status is None
    assert "process group was killed" in result.detail
    grandchild = int(result.output.split()[0])

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, 5, f"grandchild {grandchild} to be killed")


@pytest.mark.integration
def test_the_output_kept_is_the_bounded_end() -> None:
    code = "import sys; sys.stdout.write('a' * 200000 + 'THE END')"
    result = run(params(PY, "-c", code), 10, Boundaries())
    assert len(result.output) == OUTPUT_TAIL_BYTES
    assert result.output.endswith("aTHE END")


@pytest.mark.integration
def test_a_program_that_cannot_start_fails_without_raising(tmp_path: Path) -> None:
    result = run(params(str(tmp_path / "missing")), 10, Boundaries())
    assert (result.outcome, result.status) == (ActionOutcome.FAILED, None)
    assert result.detail.startswith(f"cannot start {tmp_path / 'missing'}: ")


@pytest.mark.integration
def test_the_working_directory_is_the_one_given(tmp_path: Path) -> None:
    result = run(
        params(PY, "-c", "import os; print(os.getcwd())", cwd=str(tmp_path)), 10, Boundaries()
    )
    assert Path(result.output.strip()).resolve() == tmp_path.resolve()


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        ([], "List should have at least 1 item"),
        (["true"], "the program (argv[0]) must be an absolute path"),
        (["bin/true"], "the program (argv[0]) must be an absolute path"),
    ],
)
def test_the_program_must_be_an_absolute_path(argv: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(problem)):
        RunCommandParams.model_validate({"argv": argv})


def test_a_label_may_never_name_the_program() -> None:
    assert RunCommandParams.placeholder_problems({"argv": ["/usr/bin/{labels.x}", "a"]}) == [
        "argv[0]: the program cannot come from a label"
    ]
    assert RunCommandParams.placeholder_problems({"argv": ["/bin/echo", "{labels.x}"]}) == []


def test_env_names_must_be_variable_names() -> None:
    with pytest.raises(ValidationError):
        RunCommandParams.model_validate({"argv": ["/bin/true"], "env": ["A=B"]})

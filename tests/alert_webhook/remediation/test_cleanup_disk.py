"""actions/cleanup_disk.py on real files and real symlinks: old matches deleted under
the roots only, links neither followed nor deleted, "now" from the clock given."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alert_webhook.remediation.actions.base import ActionOutcome, Boundaries
from alert_webhook.remediation.actions.cleanup_disk import CleanupDiskParams, run
from alert_webhook.remediation.playbooks import playbooks_from_mapping
from toolkit.config import ConfigError

NOW = 1_800_000_000.0
DAY = 86400.0


def ctx(**kw: Any) -> Boundaries:
    return Boundaries(now=lambda: NOW, monotonic=lambda: 0.0, **kw)


def make(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    mtime = NOW - age_days * DAY
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return path


def params(roots: list[Path], patterns: list[str], **kw: Any) -> CleanupDiskParams:
    return CleanupDiskParams.model_validate(
        {"roots": [str(r) for r in roots], "patterns": patterns, "older_than": "7d", **kw}
    )


def test_old_matching_files_are_deleted_and_the_rest_kept(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    old = make(root / "app.log.1", 100, 10)
    deep = make(root / "a" / "b" / "worker.log.3", 50, 8)
    young = make(root / "app.log.2", 70, 1)
    other = make(root / "keep.db", 1000, 30)
    result = run(params([root], ["*.log.*"]), 30, ctx())
    assert result.outcome is ActionOutcome.SUCCEEDED, result.detail
    assert not old.exists() and not deep.exists()
    assert young.exists() and other.exists()
    assert (root / "a" / "b").is_dir(), "directories stay"
    assert result.output.splitlines()[-1] == (
        "deleted 2 files, 150 bytes; kept 1 newer, 0 symlinks; 0 problems"
    )
    assert f"deleted {root}/app.log.1 (100 bytes)" in result.output
    assert result.status is None


def test_age_is_measured_from_the_clock_given(tmp_path: Path) -> None:
    file = make(tmp_path / "r" / "x.tmp", 1, 0)
    later = Boundaries(now=lambda: NOW + 8 * DAY, monotonic=lambda: 0.0)
    run(params([tmp_path / "r"], ["*.tmp"]), 30, ctx())
    assert file.exists()
    run(params([tmp_path / "r"], ["*.tmp"]), 30, later)
    assert not file.exists()


def test_a_dry_run_lists_and_deletes_nothing(tmp_path: Path) -> None:
    old = make(tmp_path / "r" / "core.123", 10, 9)
    result = run(params([tmp_path / "r"], ["core.*"], dry_run=True), 30, ctx())
    assert old.exists()
    assert result.output.splitlines() == [
        f"would delete {old} (10 bytes)",
        "would delete 1 files, 10 bytes; kept 0 newer, 0 symlinks; 0 problems",
    ]


def test_a_glob_with_a_slash_matches_the_path_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "r"
    cached = make(root / "cache" / "x.tmp", 1, 9)
    elsewhere = make(root / "work" / "y.tmp", 1, 9)
    run(params([root], ["cache/*.tmp"]), 30, ctx())
    assert not cached.exists() and elsewhere.exists()


def test_symlinks_are_neither_followed_nor_deleted(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    target = make(outside / "precious.log", 500, 99)
    make(outside / "dir" / "also.log", 500, 99)
    root.mkdir()
    (root / "link.log").symlink_to(target)
    (root / "dirlink").symlink_to(outside / "dir")
    os.utime(root / "link.log", (NOW - 99 * DAY,) * 2, follow_symlinks=False)
    result = run(params([root], ["*.log"]), 30, ctx())
    assert result.outcome is ActionOutcome.SUCCEEDED
    assert target.exists() and (outside / "dir" / "also.log").exists()
    assert (root / "link.log").is_symlink() and (root / "dirlink").is_symlink()
    assert result.output.splitlines()[-1] == (
        "deleted 0 files, 0 bytes; kept 0 newer, 1 symlinks; 0 problems"
    )


def test_a_root_that_is_a_link_is_cleaned_where_it_points(tmp_path: Path) -> None:
    old = make(tmp_path / "real" / "a.log", 3, 9)
    (tmp_path / "logs").symlink_to(tmp_path / "real")
    result = run(params([tmp_path / "logs"], ["*.log"]), 30, ctx())
    assert not old.exists()
    assert f"deleted {tmp_path}/real/a.log (3 bytes)" in result.output


def test_a_root_that_links_to_slash_is_refused_when_it_runs(tmp_path: Path) -> None:
    (tmp_path / "sneaky").symlink_to("/")
    result = run(params([tmp_path / "sneaky"], ["*"], dry_run=True), 30, ctx())
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail == f"{tmp_path}/sneaky: / is not a root to clean"
    assert result.output.startswith("would delete 0 files")


def test_a_missing_root_fails_but_the_others_are_cleaned(tmp_path: Path) -> None:
    old = make(tmp_path / "there" / "a.log", 3, 9)
    result = run(params([tmp_path / "gone", tmp_path / "there"], ["*.log"]), 30, ctx())
    assert not old.exists()
    assert result.outcome is ActionOutcome.FAILED
    assert result.detail == f"{tmp_path}/gone: No such file or directory"


def test_the_timeout_stops_the_walk_and_says_what_was_done(tmp_path: Path) -> None:
    for i in range(5):
        make(tmp_path / "r" / f"{i}.log", 1, 9)
    reads = iter(range(100))
    result = run(
        params([tmp_path / "r"], ["*.log"]),
        2.5,
        Boundaries(now=lambda: NOW, monotonic=lambda: float(next(reads))),
    )
    assert result.outcome is ActionOutcome.TIMED_OUT
    assert len(list((tmp_path / "r").iterdir())) == 3
    assert result.output.splitlines()[-1].startswith("deleted 2 files, 2 bytes")


@pytest.mark.parametrize(
    ("roots", "patterns", "message"),
    [
        (["var/log"], ["*.log"], "must be an absolute path"),
        (["/var/log/../../etc"], ["*.log"], "must not hold '..'"),
        (["/"], ["*.log"], "/ is not a root to clean"),
        (["//"], ["*.log"], "/ is not a root to clean"),
        (["/var/log"], ["../*.log"], "must not hold '..'"),
        (["/var/log"], ["/etc/*"], "must be a non-empty relative glob"),
        (["/var/log"], [], "at least 1 item"),
    ],
)
def test_roots_and_globs_that_could_reach_outside_are_refused(
    roots: list[str], patterns: list[str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        CleanupDiskParams.model_validate({"roots": roots, "patterns": patterns, "older_than": 1})


def test_roots_never_come_from_labels() -> None:
    data = {
        "playbooks": [
            {
                "name": "clean",
                "match": {"alertname": "HostDiskSpaceLow"},
                "actions": [
                    {
                        "action": "cleanup_disk",
                        "params": {
                            "roots": ["/var/log/{labels.service}"],
                            "patterns": ["*.gz"],
                            "older_than": "7d",
                        },
                    }
                ],
            }
        ]
    }
    with pytest.raises(ConfigError) as caught:
        playbooks_from_mapping(data)
    assert "playbooks[0].actions[0].params.roots: takes no {labels.NAME} placeholders" in (
        caught.value.problems
    )

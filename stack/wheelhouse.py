"""The agent's wheelhouse: every wheel the system exporter's virtualenv on a host
needs, built on the controller so that a host without internet access installs
it with `pip install --no-index --find-links`.

    python -m stack.wheelhouse var/fleet/wheelhouse

- `recovery-stack-agent`: the exporter's own code (`exporters/`, `toolkit/`) from
  this checkout, versioned by a hash of that code, so a changed exporter is a new
  version that pip installs and an unchanged one is left alone;
- its dependencies (psutil, prometheus-client, PyYAML, pydantic, supervisor and
  theirs), the very distributions this controller runs, written back into wheels
  from their installed files. No network and no build backend is needed: the stack's own
  virtualenv holds them all, and a wheel is a zip of those files with their
  RECORD (PEP 427), which pip checks when it installs one.

The wheels fit hosts with the controller's Python version and platform (the
demo fleet's, and most Debian fleets'); docs/fleet.md says what to do otherwise.
What a host receives is one archive, `recovery-stack-agent-<version>.tar` (copied
and unpacked in one step, far quicker over SSH than file by file): the wheels,
`requirement.txt` naming the agent's exact version, and pip itself as a wheel
(`bootstrap/pip.whl`), run from the wheel as pip's documentation describes, so a
host needs neither pip nor `ensurepip`, and the venv is made `--without-pip`.
`requirement.txt` beside the archive tells `deploy/agent.yml` which one to ship.
Run again it rebuilds only when the code or a version changed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
AGENT = "recovery-stack-agent"
AGENT_BASE_VERSION = "0.1.0"
# The packages the system exporter imports, and the distributions they import.
AGENT_PACKAGES = ("exporters", "toolkit")
AGENT_REQUIRES = ("psutil", "prometheus-client", "PyYAML", "pydantic", "supervisor")
REQUIREMENT_FILE = "requirement.txt"
# What pip writes beside an installed distribution's files: not part of its wheel.
_INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


class WheelhouseError(Exception):
    pass


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `roots` need, theirs included (markers evaluated
    for this interpreter, extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if _canonical(name) in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise WheelhouseError(f"{name}: not installed in {sys.prefix}") from None
        found[_canonical(name)] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    return sorted(found.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def write_wheel(
    dest: Path, stem: str, tag: str, files: Mapping[str, bytes], meta: Mapping[str, str]
) -> Path:
    """A wheel of `files` (archive name → content) and `meta` (dist-info file
    name → content; RECORD is written here); `stem` is NAME-VERSION as its
    dist-info folder spells it."""
    dist_info = f"{stem}.dist-info"
    path = dest / f"{stem}-{tag}.whl"
    record = []
    partial = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        entries = [*files.items(), *((f"{dist_info}/{k}", v.encode()) for k, v in meta.items())]
        for arcname, data in entries:
            wheel.writestr(arcname, data)
            record.append(_record_line(arcname, data))
        record.append(f"{dist_info}/RECORD,,")
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    partial.replace(path)
    return path


def _wheel_tag(wheel_text: str) -> str:
    """The file-name tag of a distribution's WHEEL file: its `Tag:` lines compressed."""
    parts: list[list[str]] = [[], [], []]
    for line in wheel_text.splitlines():
        if line.startswith("Tag:"):
            for seen, part in zip(parts, line.split(":", 1)[1].strip().split("-"), strict=True):
                if part not in seen:
                    seen.append(part)
    if not parts[0]:
        raise WheelhouseError("its WHEEL file names no tag")
    return "-".join(".".join(p) for p in parts)


def _installed_files(dist: metadata.Distribution) -> Iterator[tuple[str, bytes]]:
    """The files of an installed distribution that belong in its wheel: those under
    site-packages, without bytecode and pip's own records."""
    for file in dist.files or []:
        arcname = file.as_posix()
        if arcname.startswith("..") or file.suffix == ".pyc":
            continue
        if ".dist-info/" in arcname and file.name in _INSTALL_ONLY:
            continue
        yield arcname, Path(str(dist.locate_file(file))).read_bytes()


def repack(dist: metadata.Distribution, dest: Path) -> Path:
    """An installed distribution written back into a wheel in `dest`."""
    name = dist.metadata["Name"]
    wheel_text = dist.read_text("WHEEL")
    if wheel_text is None:
        raise WheelhouseError(f"{name}: not installed from a wheel (no WHEEL file)")
    try:
        tag = _wheel_tag(wheel_text)
    except WheelhouseError as exc:
        raise WheelhouseError(f"{name}: {exc}") from None
    files = dict(_installed_files(dist))
    folders = {a.split("/", 1)[0] for a in files if a.split("/", 1)[0].endswith(".dist-info")}
    if len(folders) != 1:
        raise WheelhouseError(f"{name}: its installed files are not listed (no RECORD)")
    return write_wheel(dest, folders.pop().removesuffix(".dist-info"), tag, files, {})


def agent_files(repo: Path = REPO) -> dict[str, bytes]:
    """The agent's code: every module of its packages, as the archive holds them."""
    return {
        path.relative_to(repo).as_posix(): path.read_bytes()
        for package in AGENT_PACKAGES
        for path in sorted((repo / package).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def agent_version(files: Mapping[str, bytes], deps: Iterable[metadata.Distribution]) -> str:
    """The base version with a local label that changes with the code or a dependency."""
    digest = hashlib.sha256()
    for arcname, data in sorted(files.items()):
        digest.update(arcname.encode() + b"\0" + data)
    for dist in deps:
        digest.update(f"{dist.metadata['Name']}=={dist.version}".encode())
    return f"{AGENT_BASE_VERSION}+{digest.hexdigest()[:12]}"


def agent_metadata(version: str, deps: Iterable[metadata.Distribution]) -> dict[str, str]:
    pins = {_canonical(d.metadata["Name"]): d.version for d in deps}
    requires = "".join(f"Requires-Dist: {n}=={pins[_canonical(n)]}\n" for n in AGENT_REQUIRES)
    return {
        "METADATA": (
            f"Metadata-Version: 2.1\nName: {AGENT}\nVersion: {version}\n"
            "Summary: recovery-stack's system exporter, as installed on a fleet host\n"
            f"Requires-Python: >=3.11\n{requires}"
        ),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: stack.wheelhouse\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }


def release_name(requirement: str) -> str:
    """The archive's (and its folder's) name for `requirement` (NAME==VERSION)."""
    return requirement.replace("==", "-")


def build(dest: Path, repo: Path = REPO) -> tuple[str, bool]:
    """The wheelhouse in `dest`: the agent's requirement and whether it was (re)built."""
    deps = closure(AGENT_REQUIRES)
    files = agent_files(repo)
    version = agent_version(files, deps)
    requirement = f"{AGENT}=={version}"
    release = release_name(requirement)
    marker = dest / REQUIREMENT_FILE
    built = (dest / f"{release}.tar").is_file() and marker.is_file()
    if built and marker.read_text().strip() == requirement:
        return requirement, False
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as scratch:
        folder = Path(scratch) / release
        (folder / "bootstrap").mkdir(parents=True)
        for dist in deps:
            repack(dist, folder)
        stem = f"{AGENT.replace('-', '_')}-{version}"
        write_wheel(folder, stem, "py3-none-any", files, agent_metadata(version, deps))
        shutil.copyfile(
            repack(metadata.distribution("pip"), Path(scratch)), folder / "bootstrap" / "pip.whl"
        )
        (folder / REQUIREMENT_FILE).write_text(requirement + "\n")
        for old in dest.glob(f"{AGENT}-*.tar"):
            if old.name != f"{release}.tar":
                old.unlink(missing_ok=True)
        partial = dest / f".{release}.tar.partial"
        with tarfile.open(partial, "w") as archive:
            archive.add(folder, arcname=release)
        partial.replace(dest / f"{release}.tar")
    marker.write_text(requirement + "\n")
    return requirement, True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m stack.wheelhouse DEST", file=sys.stderr)
        return 2
    try:
        requirement, built = build(Path(args[0]))
    except (WheelhouseError, OSError) as exc:
        print(f"stack.wheelhouse: {exc}", file=sys.stderr)
        return 1
    print(f"{'built' if built else 'unchanged'}: {requirement} in {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The model registry as GTO keeps it in git tags, read with one `git for-each-ref`.

gto's own CLI and API rebuild the registry from every tag on each call, which grows with
the number of versions (seconds at a few thousand). datawheel lists all tags once and
parses each name with gto's own `parse_name`, so its reads stay fast on a long history
while the tags remain exactly what `gto show` and `dvc artifacts get` understand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from gto.constants import ACTION, COUNTER, NAME, STAGE, VERSION, Action
from gto.tag import name_tag, parse_name
from pydantic import ValidationError
from semver import Version

from datawheel.config.params import Registry as RegistryParams
from datawheel.errors import ParamsError
from datawheel.io.git import git

PROD = "prod"
_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(*objectname)",
    "%(objectname)",
    "%(creatordate:unix)",
    "%(taggername)",
)


@dataclass(frozen=True)
class RegistryTag:
    """One GTO tag: a registered version or a stage assignment, with the commit it marks."""

    tag: str
    name: str
    action: str  # register, deregister, assign, unassign, deprecate
    commit: str
    created: int  # tagger time, unix seconds
    tagger: str = ""
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Registry:
    tags: list[RegistryTag]
    _by_name: dict[str, list[RegistryTag]] = field(default_factory=dict, repr=False)
    _versions: dict[str, list[RegistryTag]] = field(default_factory=dict, repr=False)
    _commits: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def of(self, name: str) -> list[RegistryTag]:
        if not self._by_name:
            for tag in self.tags:
                self._by_name.setdefault(tag.name, []).append(tag)
        return self._by_name.get(name, [])

    def versions(self, name: str) -> list[RegistryTag]:
        """Registered (and not deregistered) versions, in semver order."""
        if name not in self._versions:
            tags = self.of(name)
            gone = {t.version for t in tags if t.action == Action.DEREGISTER.value}
            registered = [
                t for t in tags if t.action == Action.REGISTER.value and t.version not in gone
            ]
            self._versions[name] = sorted(registered, key=lambda t: semver(t.version))
        return self._versions[name]

    def version_tag(self, name: str, version: str) -> RegistryTag | None:
        return next((t for t in self.versions(name) if t.version == version), None)

    def latest(self, name: str) -> str | None:
        versions = self.versions(name)
        return versions[-1].version if versions else None

    def version_at(self, name: str, commit: str) -> str | None:
        """The newest version registered on a commit (how GTO maps assignments to versions)."""
        return self._commit_versions(name).get(commit)

    def _commit_versions(self, name: str) -> dict[str, str]:
        if name not in self._commits:
            # A register tag's name always carries its version (GTO's `name@vX.Y.Z`).
            self._commits[name] = {
                t.commit: t.version for t in self.versions(name) if t.version is not None
            }
        return self._commits[name]

    def assignments(self, name: str, stage: str = PROD) -> list[RegistryTag]:
        """Assignments and unassignments to a stage, oldest first, each with its version."""
        events = [
            t
            for t in self.of(name)
            if t.stage == stage and t.action in (Action.ASSIGN.value, Action.UNASSIGN.value)
        ]
        resolved = []
        for event in sorted(events, key=lambda t: (t.created, t.counter or 0)):
            version = self.version_at(name, event.commit)
            resolved.append(RegistryTag(**{**event.to_dict(), "version": version}))
        return resolved

    def current(self, name: str, stage: str = PROD) -> str | None:
        """The version a stage points at now: its most recent assignment, unless unassigned."""
        history = self.assignments(name, stage)
        if not history or history[-1].action != Action.ASSIGN.value:
            return None
        return history[-1].version

    def next_counter(self, name: str) -> int:
        """GTO numbers every stage tag of an artifact with one running counter."""
        return max((t.counter or 0 for t in self.of(name)), default=0) + 1

    def last_created(self) -> int:
        return max((t.created for t in self.tags), default=0)


def semver(version: str | None) -> Version:
    return Version.parse((version or "v0.0.0").lstrip("v"))


def next_version(latest: str | None, bump: str) -> str:
    """v1.0.0 for the first version; otherwise bump MAJOR or MINOR of the latest."""
    if latest is None:
        return "v1.0.0"
    current = semver(latest)
    bumped = current.bump_major() if bump == "major" else current.bump_minor()
    return f"v{bumped}"


def check_model_name(name: str) -> str:
    """name, if it is a registry name both GTO and params.yaml accept: GTO must read it back
    from its own version tag (`parse_name`), and dvc.yaml's `registry.model_name` allows only
    lower-case letters, digits and `-`; otherwise a ParamsError saying what a name may hold."""
    parsed = parse_name(version_tag_name(name, "v1.0.0"), raise_on_fail=False)
    try:
        RegistryParams(model_name=name)
    except ValidationError:
        parsed = {}
    if parsed.get(NAME) != name:
        raise ParamsError(
            f"model name {name!r}: use lower-case letters, digits and '-', starting and "
            "ending with a letter or digit (a GTO artifact name such as churn-model)"
        )
    return name


def version_tag_name(name: str, version: str) -> str:
    return name_tag(Action.REGISTER, name, version=version, simple=True)


def stage_tag_name(name: str, stage: str, counter: int) -> str:
    return f"{name_tag(Action.ASSIGN, name, stage=stage, simple=True)}#{counter}"


def parse_tag_line(line: str) -> RegistryTag | None:
    """One for-each-ref line to a RegistryTag, or None for tags that are not GTO's."""
    refname, objecttype, peeled, objectname, created, tagger = line.split("\t")
    parsed = parse_name(refname, raise_on_fail=False)
    if not parsed or objecttype != "tag":  # GTO ignores lightweight tags too
        return None
    return RegistryTag(
        tag=refname,
        name=parsed[NAME],
        action=parsed[ACTION].value,
        commit=peeled or objectname,
        created=int(created or 0),
        tagger=tagger,
        version=parsed.get(VERSION),
        stage=parsed.get(STAGE),
        counter=parsed.get(COUNTER),
    )


def read_registry(root: Path) -> Registry:
    """Every GTO tag in the repository, from a single `git for-each-ref`."""
    output = git("for-each-ref", "refs/tags", f"--format={chr(9).join(_FIELDS)}", cwd=root)
    tags = [parse_tag_line(line) for line in output.splitlines() if line]
    return Registry([t for t in tags if t is not None])

"""Load every profile folder once at start-up, and pick the profile of each message by its root and payload.

Two profiles may read the same documents (two versions of one administration's profile): the envelope's
version codes pick one where they differ; where they do not, the caller's ``choose`` (the network
configuration, ``gateway.profiles.versions``) does. Such profiles are found at load: :attr:`families`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gateway.errors import Issue, ProfileError, Unidentified
from gateway.profiles._schema import compile_schema
from gateway.profiles.descriptor import DESCRIPTOR_NAME, load_descriptor
from gateway.profiles.profile import Profile

__all__ = ["ProfileRegistry"]


Choose = Callable[[tuple[str, ...]], "str | None"]
"""Given the names of several profiles that read a document alike, return the one to use (or None)."""


@dataclass(slots=True)
class _RootEntry:
    payload_tags: tuple[str, ...] = ()
    # payload tag (None: the root is the payload) -> profile name -> its document types, `when` ones first.
    candidates: dict[str | None, dict[str, list[Profile]]] = field(default_factory=dict)


class ProfileRegistry:
    """The loaded profiles, indexed by (root tag, payload tag) for a dict lookup per message.

    Args:
        profiles: compiled document types; normally built by :meth:`load`.

    Raises:
        ProfileError: two document types of one profile claim the same root, payload and ``when``, or two
            profiles share a name.
    """

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._profiles = tuple(profiles)
        self._sources: tuple[Path, ...] | None = None
        self._index: dict[str, _RootEntry] = {}
        claimed: dict[tuple[str, str, str | None, str | None], Profile] = {}
        owners: dict[str, Path] = {}
        for p in self._profiles:
            if owners.setdefault(p.name, p.source) != p.source:
                raise ProfileError(f"two profiles are named {p.name!r}: {owners[p.name]} and {p.source}; "
                                   "rename one (its `name:`) or remove it from the profiles folder")
            key = (p.name, p.root, p.payload, p.when)
            if key in claimed:
                other = claimed[key]
                raise ProfileError(f"{p.source}: document {p.document!r} claims the same root {p.root}, payload "
                                   f"{p.payload} and condition {p.when!r} as {other.label}; "
                                   "give one a `when:` condition or remove it")
            claimed[key] = p
            entry = self._index.setdefault(p.root, _RootEntry())
            entry.candidates.setdefault(p.payload, {}).setdefault(p.name, []).append(p)
            if p.payload is not None and p.payload not in entry.payload_tags:
                entry.payload_tags += (p.payload,)
        for entry in self._index.values():
            for by_profile in entry.candidates.values():
                for candidates in by_profile.values():
                    candidates.sort(key=lambda c: c.when is None)  # stable: descriptor order among conditions
        self._families = _families(self._index)

    @property
    def families(self) -> tuple[tuple[str, ...], ...]:
        """Groups of profiles that read some document alike: same root and payload, and no envelope version
        code tells them apart. Which one a participant uses is configuration (``profile_versions``)."""
        return self._families

    @classmethod
    def load(cls, dirs: Iterable[str | Path] | str | Path) -> ProfileRegistry:
        """Load and compile every profile found: a folder holding ``profile.yaml``, or a folder of those.

        Each XSD set is compiled once, even when several document types list it.

        Args:
            dirs: profile folders, or folders of profile folders.

        Raises:
            ProfileError: a folder is missing or holds no profile, a descriptor or XSD is wrong, or two
                profiles conflict. The message names the file and what to do.
        """
        folders = [Path(dirs)] if isinstance(dirs, (str, Path)) else [Path(d) for d in dirs]
        profiles: list[Profile] = []
        compiled: dict[tuple[Path, ...], etree.XMLSchema] = {}
        for descriptor_path in _find_descriptors(folders):
            descriptor = load_descriptor(descriptor_path)
            schema_root = (descriptor_path.parent / descriptor.schema_root).resolve()
            if not schema_root.is_dir():
                raise ProfileError(f"{descriptor_path}: schema_root {descriptor.schema_root!r} resolves to "
                                   f"{schema_root}, which is not a folder; fix `schema_root`")
            for doc in descriptor.documents:
                paths = tuple((schema_root / s).resolve() for s in doc.schemas)
                if paths not in compiled:
                    compiled[paths] = compile_schema(paths, descriptor_path)
                profiles.append(Profile(descriptor, doc, compiled[paths], descriptor_path))
        registry = cls(profiles)
        registry._sources = tuple(folders)
        return registry

    def clone(self) -> ProfileRegistry:
        """Return the same profiles compiled again, for another thread.

        lxml keeps a schema's last error log on the schema object, so two threads must not validate with
        the same one at once: each pipeline worker thread gets its own copy (a few milliseconds each).

        Raises:
            ProfileError: this registry was not built by :meth:`load`, or its folders changed since.
        """
        if self._sources is None:
            raise ProfileError("only a registry loaded from profile folders can be cloned")
        return ProfileRegistry.load(self._sources)

    @property
    def profiles(self) -> tuple[Profile, ...]:
        """Every compiled document type, in load order."""
        return self._profiles

    @property
    def names(self) -> tuple[str, ...]:
        """The loaded profiles' names, each once, in load order."""
        return tuple(dict.fromkeys(p.name for p in self._profiles))

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def select(self, root: etree._Element, choose: Choose | None = None) -> Profile:
        """Return the document type of a parsed message.

        Each profile reading the root and payload offers its first document type whose ``when`` holds. Of
        several, those whose version codes accept the envelope remain (a version list selects before it
        rejects); of several still, ``choose`` picks.

        Args:
            root: the message's root element.
            choose: picks among the names of profiles that read the document alike; None picks none.

        Raises:
            Unidentified: no loaded profile reads this root and payload (OCO-UNKNOWN-PROFILE), none accepts
                its version codes (OCO-UNSUPPORTED-WCO-VERSION, OCO-UNSUPPORTED-VERSION), or several do and
                ``choose`` picked none of them (OCO-AMBIGUOUS-PROFILE).
        """
        entry = self._index.get(root.tag)
        payload = None
        if entry is not None:
            if entry.payload_tags:
                payload = next(root.iterchildren(*entry.payload_tags), None)
            target = root if payload is None else payload
            by_profile = entry.candidates.get(None if payload is None else payload.tag, {})
            if len(by_profile) == 1:  # the usual case, kept as cheap as before versions existed
                for candidate in next(iter(by_profile.values())):
                    if candidate.matches(target):
                        candidate.check_version(root)
                        return candidate
            else:
                matched = [found for documents in by_profile.values()
                           if (found := next((d for d in documents if d.matches(target)), None)) is not None]
                if len(matched) == 1:
                    matched[0].check_version(root)
                    return matched[0]
                if matched:
                    return _pick(root, matched, choose)
        raise self._unknown(root, payload)

    def _unknown(self, root: etree._Element, payload: etree._Element | None) -> Unidentified:
        if payload is None:  # name the foreign payload: the first child outside the root's namespace
            own = etree.QName(root).namespace
            payload = next((c for c in root.iterchildren(etree.Element) if etree.QName(c).namespace != own), None)
        known = sorted({f"{p.name}: {p.root}" + (f" > {p.payload}" if p.payload else "") for p in self._profiles})
        seen = root.tag + (f" > {payload.tag}" if payload is not None else "")
        return Unidentified([Issue(
            code="OCO-UNKNOWN-PROFILE",
            message=f"no loaded profile reads a {seen} document; known: {'; '.join(known) or 'none'}",
        )], stage="identify")


def _pick(root: etree._Element, matched: list[Profile], choose: Choose | None) -> Profile:
    refusals = [(d, d.refusal(root)) for d in matched]
    accepted = [d for d, issue in refusals if issue is None]
    if not accepted:
        issues = [issue for _, issue in refusals if issue is not None]
        raise Unidentified([Issue(code=issues[0].code, message=" ".join(i.message for i in issues))],
                           stage="identify")
    if len(accepted) == 1:
        return accepted[0]
    names = tuple(d.name for d in accepted)
    chosen = choose(names) if choose is not None else None
    for document in accepted:
        if document.name == chosen:
            return document
    raise Unidentified([Issue(
        code="OCO-AMBIGUOUS-PROFILE",
        message=f"profiles {', '.join(names)} all read this document and its envelope's version codes do not "
                "tell them apart; the configuration (profile_versions) names none of them for this submitter",
    )], stage="identify")


def _families(index: dict[str, _RootEntry]) -> tuple[tuple[str, ...], ...]:
    # Union-find over profile names: two are linked when some pair of their document types reads the same
    # root and payload and no version code both name tells them apart (conditions are not compared: two
    # `when` XPaths may well overlap).
    parent: dict[str, str] = {}

    def top(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for entry in index.values():
        for by_profile in entry.candidates.values():
            names = list(by_profile)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    if any(not x.told_apart(y) for x in by_profile[a] for y in by_profile[b]):
                        parent[top(b)] = top(a)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(top(name), []).append(name)
    return tuple(sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1))


def _find_descriptors(dirs: Sequence[Path]) -> list[Path]:
    found = []
    for folder in dirs:
        if not folder.is_dir():
            raise ProfileError(f"profiles folder {folder} does not exist; set OCO_PROFILES_DIR or --profiles "
                               "to a folder holding profile.yaml (or folders that do)")
        if (folder / DESCRIPTOR_NAME).is_file():
            found.append(folder / DESCRIPTOR_NAME)
            continue
        inside = sorted(sub / DESCRIPTOR_NAME for sub in folder.iterdir() if (sub / DESCRIPTOR_NAME).is_file())
        if not inside:
            raise ProfileError(f"no {DESCRIPTOR_NAME} in {folder} or its sub-folders; "
                               "point the profiles setting at a profile folder (see schemas/README.md)")
        found.extend(inside)
    return found

"""Tests for gateway.profiles: loading profile folders, their errors, one-time compilation and selection."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from lxml import etree

import gateway.profiles as profiles_pkg
from gateway.errors import ProfileError, Unidentified
from gateway.profiles import Profile, ProfileRegistry
from gateway.profiles import registry as registry_module
from gateway.responses import build_response
from gateway.samples import make_declaration

ROOT = Path(__file__).resolve().parents[2]
E, D = "urn:test:env:1", "urn:test:doc:1"

# An envelope that takes any element of the document namespace, strictly: it needs the document XSD
# beside it, which is what a generated wrapper provides.
ENV_XSD = f"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{E}" elementFormDefault="qualified">
  <xs:element name="Env"><xs:complexType><xs:sequence>
    <xs:element name="Country" type="xs:string" minOccurs="0"/>
    <xs:element name="Version" type="xs:string" minOccurs="0"/>
    <xs:any namespace="{D}" processContents="strict"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""
DOC_XSD = f"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{D}" elementFormDefault="qualified">
  <xs:element name="Doc"><xs:complexType><xs:sequence>
    <xs:element name="Kind" type="xs:string"/>
    <xs:element name="Ref" type="xs:string" minOccurs="0"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"""
# A second document schema that allows only Kind = X: picked by a `when` condition.
DOC_X_XSD = DOC_XSD.replace('name="Kind" type="xs:string"', 'name="Kind" fixed="X" type="xs:string"')

DESCRIPTOR = f"""
name: {{name}}
wco_versions: ["1.0"]
namespaces: {{{{e: "{E}", d: "{D}"}}}}
routing:
  member: e:Country
  lrn: d:Doc/d:Ref
  function_code: d:Doc/d:Kind
  wco_version: e:Version
documents:
  - kind: DEC
    root: "{{{{{E}}}}}Env"
    payload: "{{{{{D}}}}}Doc"
    schemas: [env.xsd, doc.xsd]
"""


def _profile(folder: Path, descriptor: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(descriptor)
    for name, text in {"env.xsd": ENV_XSD, "doc.xsd": DOC_XSD, **files}.items():
        (folder / name).write_text(text)
    return folder


def _doc(kind: str = "A", country: str = "FJ", version: str = "1.0") -> etree._Element:
    return etree.fromstring(f'<e:Env xmlns:e="{E}" xmlns:d="{D}"><e:Country>{country}</e:Country>'
                            f"<e:Version>{version}</e:Version><d:Doc><d:Kind>{kind}</d:Kind>"
                            f"<d:Ref>R-1</d:Ref></d:Doc></e:Env>")


def _load_error(*dirs: Path) -> str:
    with pytest.raises(ProfileError) as info:
        ProfileRegistry.load(list(dirs))
    return str(info.value)


@pytest.fixture(scope="module")
def oco() -> ProfileRegistry:
    return ProfileRegistry.load([ROOT / "schemas"])


class TestPublicApi:
    @pytest.mark.parametrize("name", [
        "gateway.profiles", "gateway.profiles.descriptor", "gateway.profiles.profile", "gateway.profiles.registry",
        "gateway.profiles.versions",
        "gateway.pipeline.parse", "gateway.pipeline.identify", "gateway.pipeline.validate",
        "gateway.pipeline.extract", "gateway.responses", "gateway.samples", "gateway.cli.validate_cmd",
    ])
    def test_all_is_sorted_and_exports_exist(self, name: str) -> None:
        """Each public module of the XML stages lists a sorted ``__all__`` whose names all exist."""
        module = importlib.import_module(name)
        assert module.__all__ == sorted(module.__all__)
        assert all(hasattr(module, attr) for attr in module.__all__)

    def test_package_exports_profile_and_registry(self) -> None:
        """``gateway.profiles`` re-exports the two names the pipeline types refer to."""
        assert {"Profile", "ProfileRegistry"} <= set(profiles_pkg.__all__)


class TestRegistryLoad:
    def test_project_schemas_folder_loads_the_oco_profile(self, oco: ProfileRegistry) -> None:
        """The default folder holds one profile, ``oco``: declarations, responses and AEO status events."""
        assert oco.names == ("oco",)
        assert sorted((p.kind, p.document) for p in oco) == [
            ("AEO", "aeo-status"), ("DEC", "declaration"), ("RES", "response")]

    def test_a_profile_folder_itself_can_be_given(self) -> None:
        """A folder holding profile.yaml loads as one profile, like a folder of profile folders."""
        assert ProfileRegistry.load(ROOT / "schemas" / "oco").names == ("oco",)

    def test_missing_folder_names_the_folder(self, tmp_path: Path) -> None:
        """A profiles folder that does not exist stops loading, naming it and the setting to fix."""
        message = _load_error(tmp_path / "nowhere")
        assert str(tmp_path / "nowhere") in message and "OCO_PROFILES_DIR" in message

    def test_folder_without_descriptor_is_an_error(self, tmp_path: Path) -> None:
        """A folder with no profile.yaml, at its level or one below, is refused."""
        (tmp_path / "empty").mkdir()
        assert "no profile.yaml" in _load_error(tmp_path)

    def test_bad_yaml_names_file_and_line(self, tmp_path: Path) -> None:
        """Unparsable YAML is reported with the descriptor's path and the line."""
        folder = _profile(tmp_path / "p", "name: p\ndocuments: [\n  - kind: DEC\n")
        message = _load_error(folder)
        assert str(folder / "profile.yaml") in message and "not valid YAML at line" in message

    def test_unknown_key_is_refused_by_name(self, tmp_path: Path) -> None:
        """A misspelt key is an error naming it, not silently ignored."""
        folder = _profile(tmp_path / "p", DESCRIPTOR.format(name="p").replace("wco_versions", "wco_version"))
        assert "wco_version" in _load_error(folder) and "Extra inputs are not permitted" in _load_error(folder)

    def test_declaration_without_routing_is_refused(self, tmp_path: Path) -> None:
        """A DEC document with no routing paths cannot be routed, so the descriptor is refused."""
        text = DESCRIPTOR.format(name="p")
        text = text[: text.index("routing:")] + text[text.index("documents:"):]
        assert "no routing paths" in _load_error(_profile(tmp_path / "p", text))

    def test_missing_xsd_names_the_file(self, tmp_path: Path) -> None:
        """A schema listed in the descriptor but absent is reported by path."""
        folder = _profile(tmp_path / "p", DESCRIPTOR.format(name="p").replace("doc.xsd", "gone.xsd"))
        assert str(folder / "gone.xsd") in _load_error(folder)

    def test_missing_import_names_the_importing_file(self, tmp_path: Path) -> None:
        """A schemaLocation that points nowhere is reported with the XSD that refers to it."""
        broken = ENV_XSD.replace("<xs:element name=\"Env\">",
                                 '<xs:include schemaLocation="parts/missing.xsd"/><xs:element name="Env">')
        folder = _profile(tmp_path / "p", DESCRIPTOR.format(name="p"), **{"env.xsd": broken})
        message = _load_error(folder)
        assert "missing.xsd" in message and str(folder / "env.xsd") in message

    def test_xsd_that_does_not_compile_is_reported(self, tmp_path: Path) -> None:
        """An XSD referring to an undefined type stops loading with libxml2's reason."""
        broken = DOC_XSD.replace('type="xs:string" minOccurs="0"', 'type="xs:NoSuchType" minOccurs="0"')
        folder = _profile(tmp_path / "p", DESCRIPTOR.format(name="p"), **{"doc.xsd": broken})
        message = _load_error(folder)
        assert "do not compile" in message and "NoSuchType" in message

    def test_xsd_with_doctype_is_refused(self, tmp_path: Path) -> None:
        """Profiles may not use DTDs or entities, even in trusted XSDs."""
        evil = DOC_XSD.replace('<?xml version="1.0"?>', '<?xml version="1.0"?><!DOCTYPE xs:schema [<!ENTITY e "x">]>')
        assert "DOCTYPE" in _load_error(_profile(tmp_path / "p", DESCRIPTOR.format(name="p"), **{"doc.xsd": evil}))

    def test_xsd_importing_over_the_network_is_refused(self, tmp_path: Path) -> None:
        """A schemaLocation with an http URL is refused before libxml2 could fetch anything."""
        remote = DOC_XSD.replace("<xs:element name=\"Doc\">",
                                 '<xs:import namespace="urn:x" schemaLocation="http://127.0.0.1:9/x.xsd"/>'
                                 '<xs:element name="Doc">')
        message = _load_error(_profile(tmp_path / "p", DESCRIPTOR.format(name="p"), **{"doc.xsd": remote}))
        assert "network" in message and "http://127.0.0.1:9/x.xsd" in message

    def test_xpath_with_undeclared_prefix_names_the_key(self, tmp_path: Path) -> None:
        """A routing path using a prefix not under `namespaces` fails at load, naming the key."""
        folder = _profile(tmp_path / "p", DESCRIPTOR.format(name="p").replace("lrn: d:Doc/d:Ref", "lrn: x:Doc"))
        message = _load_error(folder)
        assert "routing.lrn" in message and "'x:Doc'" in message

    def test_broken_when_condition_names_the_document(self, tmp_path: Path) -> None:
        """A `when` that is not XPath fails at load, naming the document entry."""
        text = DESCRIPTOR.format(name="p").replace("schemas: [env.xsd, doc.xsd]",
                                                   "when: \"d:Kind = \"\n    schemas: [env.xsd, doc.xsd]")
        assert "documents.0.when" in _load_error(_profile(tmp_path / "p", text))

    def test_schema_root_must_exist(self, tmp_path: Path) -> None:
        """A schema_root pointing nowhere is reported with the resolved folder."""
        folder = _profile(tmp_path / "p", "schema_root: ../elsewhere\n" + DESCRIPTOR.format(name="p"))
        assert "schema_root" in _load_error(folder) and str(tmp_path / "elsewhere") in _load_error(folder)

    def test_two_profiles_claiming_the_same_document_load_as_one_family(self, tmp_path: Path) -> None:
        """Two profiles reading the same root, payload and version codes load side by side, as one family."""
        _profile(tmp_path / "all" / "a", DESCRIPTOR.format(name="a"))
        _profile(tmp_path / "all" / "b", DESCRIPTOR.format(name="b"))
        assert ProfileRegistry.load(tmp_path / "all").families == (("a", "b"),)

    def test_one_profile_claiming_a_document_twice_conflicts(self, tmp_path: Path) -> None:
        """Within one profile, two document types on the same root, payload and condition are refused."""
        text = DESCRIPTOR.format(name="p") + f"""
  - name: again
    kind: DEC
    root: "{{{E}}}Env"
    payload: "{{{D}}}Doc"
    schemas: [env.xsd, doc.xsd]
"""
        folder = _profile(tmp_path / "p", text)
        message = _load_error(folder)
        assert str(folder / "profile.yaml") in message and "p/DEC" in message

    def test_two_profiles_with_one_name_conflict(self, tmp_path: Path) -> None:
        """Profile names are unique: the `oco-profile` header must say which one matched."""
        _profile(tmp_path / "all" / "a", DESCRIPTOR.format(name="same"))
        _profile(tmp_path / "all" / "b", DESCRIPTOR.format(name="same").replace(E, "urn:test:other:1"))
        assert "two profiles are named 'same'" in _load_error(tmp_path / "all")

    def test_each_schema_set_is_compiled_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The OCO profile's two document types share one XSD set, which is compiled once."""
        calls = []
        real = registry_module.compile_schema
        monkeypatch.setattr(registry_module, "compile_schema", lambda *a: calls.append(a) or real(*a))
        ProfileRegistry.load([ROOT / "schemas"])
        assert len(calls) == 1

    def test_nothing_is_compiled_per_message(self, oco: ProfileRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
        """After load, selecting, validating and extracting never build a schema or an XPath."""
        def forbidden(*args: object, **kwargs: object) -> None:
            raise AssertionError("compiled per message")

        root = etree.fromstring(make_declaration(member="FJ", lrn="LRN-1", items=3, seed=1))
        monkeypatch.setattr(etree, "XMLSchema", forbidden)
        monkeypatch.setattr(etree, "XPath", forbidden)
        profile = oco.select(root)
        assert profile.validate(root) == []
        assert profile.extract(root).lrn == "LRN-1"


class TestSelect:
    def test_declaration_and_response_get_their_document_type(self, oco: ProfileRegistry) -> None:
        """The payload element decides between the OCO declaration and response types."""
        dec = oco.select(etree.fromstring(make_declaration(member="FJ", lrn="L", seed=1)))
        res = oco.select(etree.fromstring(build_response(status="received", tracking_id="t", lrn="L", member="FJ")))
        assert isinstance(dec, Profile) and (dec.name, dec.kind) == ("oco", "DEC")
        assert (res.name, res.kind, res.label) == ("oco", "RES", "oco/response")

    def test_unknown_root_lists_the_known_namespaces(self, oco: ProfileRegistry) -> None:
        """A document no profile reads is Unidentified, and the message lists what is known."""
        with pytest.raises(Unidentified) as info:
            oco.select(etree.fromstring(b"<Declaration xmlns='urn:somewhere:else'/>"))
        (issue,) = info.value.issues
        assert issue.code == "OCO-UNKNOWN-PROFILE"
        assert "urn:somewhere:else" in issue.message and "urn:wco:datamodel:WCO:DEC-OCO:1" in issue.message
        assert info.value.dead_letter and info.value.stage == "identify"

    def test_known_root_with_unknown_payload_is_unidentified(self, oco: ProfileRegistry) -> None:
        """The right envelope around a foreign payload is not enough."""
        root = etree.fromstring(b"<md:MetaData xmlns:md='urn:wco:datamodel:WCO:DocumentMetaData-OCO:1'>"
                                b"<x:Declaration xmlns:x='urn:wco:datamodel:WCO:DEC-XYZ:1'/></md:MetaData>")
        with pytest.raises(Unidentified) as info:
            oco.select(root)
        assert "DEC-XYZ:1" in info.value.issues[0].message

    def test_unaccepted_wco_version_is_unidentified(self, oco: ProfileRegistry) -> None:
        """A declaration claiming a WCO Data Model version the profile does not accept is refused."""
        payload = make_declaration(member="FJ", lrn="L", seed=1).replace(b">3.6<", b">3.9<", 1)
        with pytest.raises(Unidentified) as info:
            oco.select(etree.fromstring(payload))
        assert info.value.issues[0].code == "OCO-UNSUPPORTED-WCO-VERSION" and "'3.9'" in info.value.issues[0].message

    def test_when_condition_picks_between_two_schemas(self, tmp_path: Path) -> None:
        """Documents with a `when` are tried before the one without, on the same root and payload."""
        text = DESCRIPTOR.format(name="p") + f"""
  - name: special
    kind: DEC
    root: "{{{E}}}Env"
    payload: "{{{D}}}Doc"
    when: "d:Kind = 'X'"
    schemas: [env.xsd, doc_x.xsd]
"""
        registry = ProfileRegistry.load(_profile(tmp_path / "p", text, **{"doc_x.xsd": DOC_X_XSD}))
        assert registry.select(_doc("X")).document == "special"
        assert registry.select(_doc("A")).document == "DEC"

    def test_generated_wrapper_joins_schemas_without_an_entry_point(self, tmp_path: Path) -> None:
        """Two XSDs listed for one document validate it together; the envelope alone cannot."""
        registry = ProfileRegistry.load(_profile(tmp_path / "p", DESCRIPTOR.format(name="p")))
        assert registry.select(_doc()).validate(_doc()) == []
        alone = ProfileRegistry.load(_profile(tmp_path / "q", DESCRIPTOR.format(name="q").replace(
            "[env.xsd, doc.xsd]", "[env.xsd]")))
        assert alone.select(_doc()).validate(_doc()) != []

    def test_routing_paths_come_from_the_descriptor(self, tmp_path: Path) -> None:
        """A foreign profile's routing fields are read with its own paths, with no code for it."""
        registry = ProfileRegistry.load(_profile(tmp_path / "p", DESCRIPTOR.format(name="p")))
        fields = registry.select(_doc("A", "WS")).extract(_doc("A", "WS"))
        assert (fields.member, fields.lrn, fields.function_code, fields.aeo_holders) == ("WS", "R-1", "A", ())

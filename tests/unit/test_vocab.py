"""Each Turtle vocabulary in ``vocab/`` and its Python namespace declare the same terms.

One parametrised case per vocabulary, so a failure names the vocabulary that drifted.
"""

import inspect
from importlib import resources

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DefinedNamespaceMeta

import vocab
from vocab import DCG, DPV, OWL, PROV, RDF, RDFS

# A Turtle file stem, the namespace class it mirrors, and the parsed file.
Vocabulary = tuple[str, DefinedNamespaceMeta, Graph]

NAMES = sorted(vocab.VOCABULARIES)

# External vocabularies we only hold a subset of; our own ontologies are not among them.
OWN = {"datacage", "datafuse"}
SUBSETS = [name for name in NAMES if name not in OWN]

LINKS = (RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range)

# Namespaces whose terms a link target is checked against: ours, then rdflib's defined ones.
CHECKED_NAMESPACES: list[DefinedNamespaceMeta] = [
    *vocab.VOCABULARIES.values(),
    *(ns for ns in vocab.NAMESPACES.values() if ns not in vocab.VOCABULARIES.values()),
]


@pytest.fixture(scope="module", params=NAMES)
def vocabulary(request: pytest.FixtureRequest) -> Vocabulary:
    name = request.param
    return name, vocab.VOCABULARIES[name], vocab.load(name)


def python_terms(namespace: DefinedNamespaceMeta) -> set[URIRef]:
    """The terms a DefinedNamespace declares: its annotations plus its ``_extras``."""
    names = set(inspect.get_annotations(namespace)) | set(namespace._extras)
    return {URIRef(f"{namespace}{name}") for name in names}


def turtle_terms(graph: Graph, namespace: DefinedNamespaceMeta) -> set[URIRef]:
    """Subjects in the namespace, leaving out the ontology's own IRI."""
    base = str(namespace)
    ontologies = set(graph.subjects(RDF.type, OWL.Ontology))
    return {
        subject
        for subject in graph.subjects(unique=True)
        if isinstance(subject, URIRef)
        and str(subject).startswith(base)
        and str(subject) != base
        and subject not in ontologies
    }


def owning_namespace(iri: URIRef) -> DefinedNamespaceMeta | None:
    return next((ns for ns in CHECKED_NAMESPACES if str(iri).startswith(str(ns))), None)


def test_turtle_parses_into_a_graph(vocabulary: Vocabulary) -> None:
    name, _, graph = vocabulary
    assert len(graph) > 0, f"{name}.ttl is empty"


def test_turtle_and_namespace_declare_the_same_terms(vocabulary: Vocabulary) -> None:
    name, namespace, graph = vocabulary
    in_turtle = turtle_terms(graph, namespace)
    in_python = python_terms(namespace)
    assert sorted(in_turtle - in_python) == [], f"{name}.ttl declares terms missing in Python"
    assert sorted(in_python - in_turtle) == [], f"{namespace.__name__} has terms not in {name}.ttl"


def test_every_term_has_a_type_label_and_comment(vocabulary: Vocabulary) -> None:
    name, namespace, graph = vocabulary
    for term in sorted(turtle_terms(graph, namespace)):
        assert graph.value(term, RDF.type) is not None, f"{name}: {term} has no rdf:type"
        assert graph.value(term, RDFS.label) is not None, f"{name}: {term} has no rdfs:label"
        assert graph.value(term, RDFS.comment) is not None, f"{name}: {term} has no rdfs:comment"


def test_every_python_term_resolves_to_its_iri(vocabulary: Vocabulary) -> None:
    _, namespace, _ = vocabulary
    for term in python_terms(namespace):
        local = str(term)[len(str(namespace)) :]
        assert namespace[local] == term


def test_undeclared_term_raises_attribute_error(vocabulary: Vocabulary) -> None:
    _, namespace, _ = vocabulary
    assert namespace._fail is True
    undeclared = "certainlyNotATermOfThisVocabulary"
    with pytest.raises(AttributeError):
        getattr(namespace, undeclared)


def test_links_into_known_namespaces_name_declared_terms(vocabulary: Vocabulary) -> None:
    # A subClassOf/subPropertyOf/domain/range pointing at a misspelt PROV, DPV, ODRL, SHACL or
    # Solid term would silently type data wrongly, so every such target must be declared.
    name, _, graph = vocabulary
    for predicate in LINKS:
        for subject, target in graph.subject_objects(predicate):
            namespace = owning_namespace(target)
            if namespace is not None:
                assert target in namespace, f"{name}: {subject} {predicate.n3()} {target} unknown"


def test_datacage_is_a_versioned_described_ontology() -> None:
    graph = vocab.load("datacage")
    ontologies = list(graph.subjects(RDF.type, OWL.Ontology))
    assert len(ontologies) == 1
    ontology = ontologies[0]
    assert str(ontology).startswith(str(DCG).rstrip("#"))
    assert graph.value(ontology, OWL.versionInfo) is not None
    assert graph.value(ontology, vocab.DCTERMS.description) is not None


def test_datacage_builds_on_prov_and_dpv() -> None:
    graph = vocab.load("datacage")
    targets = {target for predicate in LINKS for target in graph.objects(None, predicate)}
    in_prov = {target for target in targets if str(target).startswith(str(PROV))}
    in_dpv = {target for target in targets if str(target).startswith(str(DPV))}
    assert in_prov, "the datacage ontology should reuse PROV-O"
    assert in_dpv, "the datacage ontology should reuse DPV"
    assert all(target in PROV for target in in_prov)
    assert in_dpv <= python_terms(DPV)
    assert (DCG.Run, RDFS.subClassOf, PROV.Activity) in graph
    assert (DCG.purpose, RDFS.subPropertyOf, DPV.hasPurpose) in graph


@pytest.mark.parametrize("name", SUBSETS)
def test_external_subset_cites_its_source(name: str) -> None:
    header = resources.files("vocab").joinpath(f"{name}.ttl").read_text(encoding="utf-8")
    comments = "\n".join(line for line in header.splitlines() if line.startswith("#")).lower()
    assert "source:" in comments
    assert "http" in comments
    assert "subset" in comments
    assert "labels and comments paraphrased" in comments


def test_load_refuses_names_outside_the_package() -> None:
    with pytest.raises(KeyError):
        vocab.load("../pyproject")


def test_bind_prefixes_binds_every_prefix() -> None:
    graph = vocab.bind_prefixes(Graph())
    bound = {prefix: str(iri) for prefix, iri in graph.namespaces()}
    for prefix, namespace in vocab.NAMESPACES.items():
        assert bound.get(prefix) == str(namespace), prefix

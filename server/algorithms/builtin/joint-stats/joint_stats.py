"""Datum's "who can afford the car": figures of an organisation's attribute over shared customers.

The individuals' e-mail addresses (from their pods) and the organisation's customer list are
matched privately in labelled mode (``datafuse``): the organisation's attribute comes out for
the shared customers only, never with an identifier. Count, sum, mean and histogram bands are
then computed, and any figure over fewer than ``min_group`` individuals is suppressed, with
as many more as it takes for none to be worked out from the others (docs/datafuse.md). When the
space has a differential-privacy term, the figures kept carry noise calibrated to it.
"""

from decimal import Decimal

from rdflib import Graph, Literal, URIRef

from datacage_sdk import dispatch, on
from datafuse import PartySet, joint_statistics, match, normalise_email, normalise_emails
from datafuse.noise import DifferentialPrivacy
from vocab import DCG, DF, RDF, XSD

BASE = "https://w3id.org/datacage/datafuse/report#"


def individuals_set(run, plus):
    found = [address for _, address in run.individuals.emails()]
    return PartySet("individuals", normalise_emails(found, plus_addressing=plus))


def dataset_set(run, plus):
    name = run.parameters["dataset"]
    if not name and len(run.datasets) != 1:
        raise ValueError(f"Name the dataset to summarise: this run has {len(run.datasets)}.")
    dataset = run.dataset(name) if name else run.datasets[0]
    column, attribute = run.parameters["email_column"], run.parameters["attribute"]
    identifiers, labels = [], []
    for row in dataset.rows():
        key = normalise_email(str(row.get(column) or ""), plus_addressing=plus)
        if key is not None:
            identifiers.append(key)
            labels.append({attribute: row.get(attribute)})
    return PartySet(dataset.id, identifiers, labels)


def bands(text):
    edges = [float(part) for part in text.split(",") if part.strip()]
    if edges != sorted(set(edges)):
        raise ValueError("The band edges must be increasing.")
    return edges


def decimal(value):
    return Literal(Decimal(repr(round(float(value), 6))), datatype=XSD.decimal)


@on("COMPUTE_JOINT_STATISTICS")
def compute_joint_statistics(run):
    plus, attribute = bool(run.parameters["plus_addressing"]), run.parameters["attribute"]
    people, organisation = individuals_set(run, plus), dataset_set(run, plus)
    found = match([people, organisation], labels_from=organisation.name)
    figures = joint_statistics(
        found.labels or [],
        attribute,
        k=run.parameters["min_group"],
        bands=bands(run.parameters["bands"]),
        privacy=DifferentialPrivacy.from_json(run.privacy) if run.privacy else None,
        population=len(run.individuals),  # the people read: the gate's ceiling, and public
    )
    noise = f", noised with epsilon {figures.privacy.epsilon:g}" if figures.privacy else ""
    run.log(f"{len(figures.figures)} figures kept, {figures.suppressed} suppressed{noise}")
    graph = Graph()
    graph.bind("df", str(DF))
    graph.bind("dcg", str(DCG))
    report = URIRef(BASE + "joint-stats")
    graph.add((report, RDF.type, DF.MatchReport))
    graph.add((report, DF.parties, Literal(2)))
    graph.add((report, DF.matchedOn, Literal("email")))
    graph.add((report, DF.blinding, Literal(found.group)))
    graph.add((report, DF.suppressedFigures, Literal(figures.suppressed)))
    if figures.privacy is not None:
        graph.add((report, DF.noiseEpsilon, decimal(figures.privacy.epsilon)))
    graph.add((report, DCG.individuals, Literal(len(people.identifiers), datatype=XSD.integer)))
    for number, figure in enumerate(figures.figures, start=1):
        node = URIRef(f"{BASE}figure-{number}")
        graph.add((node, RDF.type, DF.Statistic))
        graph.add((node, DF.statistic, Literal(figure.statistic)))
        graph.add((node, DF.attribute, Literal(figure.attribute)))
        graph.add((node, DF.value, decimal(figure.value)))
        if figure.lower is not None:
            graph.add((node, DF.lowerBound, decimal(figure.lower)))
        if figure.upper is not None:
            graph.add((node, DF.upperBound, decimal(figure.upper)))
        graph.add((node, DCG.individuals, Literal(figure.individuals, datatype=XSD.integer)))
    run.write(graph)


def main(ctx):
    return dispatch(ctx)

"""DataFuse's seed use case: the customers the data holders have in common, by e-mail.

On ``CHECK_COMMON_DEMO_CUSTOMERS`` it reads every data holder's customer list (the individuals'
pods are one holder, each organisation's dataset another), matches the e-mail addresses by
private set intersection (``datafuse``: a fresh key per holder, no shared salt) and writes a
report to the data user that says how many customers they share, never which.
"""

from rdflib import Graph, Literal, URIRef

from datacage_sdk import dispatch, on
from datafuse import PartySet, group_named, match, normalise_emails
from vocab import DCG, DF, RDF, XSD

REPORT = URIRef("https://w3id.org/datacage/datafuse/report#common-customers")


def holders(run):
    """One set of e-mail addresses per data holder, normalised alike."""
    plus = bool(run.parameters["plus_addressing"])
    sets = []
    if len(run.individuals):
        found = [address for _, address in run.individuals.emails()]
        sets.append(PartySet("individuals", normalise_emails(found, plus_addressing=plus)))
    column = run.parameters["email_column"]
    for dataset in run.datasets:
        rows = dataset.rows()
        if rows and column not in rows[0]:
            raise ValueError(f"The dataset {dataset.name!r} has no column {column!r}.")
        values = [str(row[column]) for row in rows if row.get(column)]
        sets.append(PartySet(dataset.id, normalise_emails(values, plus_addressing=plus)))
    return sets


@on("CHECK_COMMON_DEMO_CUSTOMERS")
def check_common_customers(run):
    sets = holders(run)
    if len(sets) < 2:
        raise ValueError(f"Matching needs two data holders; this run has {len(sets)}.")
    found = match(sets, group=group_named(run.parameters["blinding"]))
    sizes = ", ".join(f"{name}: {size}" for name, size in found.party_sizes.items())
    run.log(f"matched {len(sets)} data holders ({sizes}) with {found.multiplications} blindings")
    run.progress(0.9)
    plus = run.parameters["plus_addressing"]
    graph = Graph()
    graph.bind("df", str(DF))
    graph.bind("dcg", str(DCG))
    graph.add((REPORT, RDF.type, DF.MatchReport))
    graph.add((REPORT, DF.parties, Literal(len(sets))))
    graph.add((REPORT, DF.matchedOn, Literal("email")))
    graph.add((REPORT, DF.blinding, Literal(found.group)))
    words = "trimmed, lower-cased" + (", plus-addressing removed" if plus else "")
    graph.add((REPORT, DF.normalisation, Literal(words)))
    if found.size >= run.parameters["min_overlap"]:
        graph.add((REPORT, DF.commonCustomers, Literal(found.size)))
    else:
        graph.add((REPORT, DF.suppressed, Literal(True)))
    # The count is a function of every compared individual's data: with pods, those people
    # (the gate's ceiling); without, the smallest holder (each of its records was compared).
    covered = found.party_sizes.get("individuals", min(found.party_sizes.values()))
    graph.add((REPORT, DCG.individuals, Literal(covered, datatype=XSD.integer)))
    run.write(graph)


def main(ctx):
    return dispatch(ctx)

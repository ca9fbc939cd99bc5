"""The SDK outside the sandbox, on the bootstrap's own context objects: events, inputs, output.

The same code runs inside the real sandbox in tests/integration/test_sdk_local.py.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

import datacage_sdk
from datacage_sdk import DCG_INDIVIDUALS, InputError, OutputError, dispatch, on
from datacage_sdk import events as sdk_events
from server.datacage.sandbox import bootstrap

SCHEMA_EMAIL = URIRef("http://schema.org/email")
SHAPE = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcg: <https://w3id.org/datacage/ns#> .
@prefix ex: <https://example.org/t#> .
ex:S a sh:NodeShape ; sh:targetClass ex:Report ; sh:closed true ;
  sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) ;
  sh:property [ sh:path ex:count ; sh:datatype xsd:integer ; sh:minInclusive 0 ;
                sh:minCount 1 ; sh:maxCount 1 ] ,
              [ sh:path ex:label ; sh:datatype xsd:string ; sh:maxCount 1 ] ,
              [ sh:path dcg:individuals ; sh:datatype xsd:integer ; sh:maxCount 1 ] .
"""


@pytest.fixture(autouse=True)
def no_handlers(monkeypatch):
    monkeypatch.setattr(sdk_events, "_HANDLERS", {})


class Ctx(bootstrap.Context):
    """The bootstrap's context, pointed at test folders instead of /bundle, /input, /output."""

    def __init__(self, root: Path, parameters: dict, people: list) -> None:
        super().__init__(parameters, people, status=sys.stderr)
        self.bundle_dir, self.input_dir = root / "bundle", root / "input"
        self.output_dir = root / "output"
        self.logged: list[str] = []

    def write_result(self, turtle_text, name="result.ttl"):
        self.output_dir.mkdir(exist_ok=True)
        (self.output_dir / name).write_text(turtle_text)
        return self.output_dir / name

    def log(self, message):
        self.logged.append(str(message))

    def progress(self, fraction):
        pass


def world(tmp_path: Path, *, events=("CHECK",), datasets=None, parameters=None) -> Ctx:
    (tmp_path / "bundle" / "shapes").mkdir(parents=True)
    manifest = f'[algorithm]\nevents = {json.dumps(list(events))}\noutput_shape = "shapes/r.ttl"\n'
    (tmp_path / "bundle" / "manifest.toml").write_text(manifest)
    (tmp_path / "bundle" / "shapes" / "r.ttl").write_text(SHAPE)
    people = []
    for n in range(2):
        folder = tmp_path / "input" / f"person-{n + 1}"
        folder.mkdir(parents=True)
        (folder / "1").write_text(f'<#me> <http://schema.org/email> "p{n}@example.org" .')
        (folder / "2").write_text("order,amount\n" + "".join(f"{i},2.5\n" for i in range(n + 1)))
        people.append(
            bootstrap.Person(
                f"person-{n + 1}",
                [
                    bootstrap.Resource("customers.ttl", "text/turtle", folder / "1"),
                    bootstrap.Resource("orders.csv", "text/csv; charset=utf-8", folder / "2"),
                ],
            )
        )
    index = {"people": [], **({"datasets": datasets} if datasets is not None else {})}
    (tmp_path / "input" / "index.json").write_text(json.dumps(index))
    return Ctx(tmp_path, parameters or {}, people)


def crm(tmp_path: Path, text: str, fmt="csv", schema=None) -> list[dict]:
    folder = tmp_path / "input" / "datasets" / "dataset-1"
    folder.mkdir(parents=True)
    (folder / f"crm.{fmt}").write_text(text)
    return [
        {
            "id": "dataset-1",
            "provider": "https://org.example/profile#org",
            "name": "crm",
            "file": f"datasets/dataset-1/crm.{fmt}",
            "format": fmt,
            "schema": schema,
        }
    ]


def test_the_handler_of_the_manifests_event_gets_the_run(tmp_path):
    seen = {}

    @on("CHECK")
    def handle(run):
        seen["run"] = run
        return "done"

    assert dispatch(world(tmp_path)) == "done"
    run = seen["run"]
    assert run.event == "CHECK"
    assert [p.id for p in run.individuals.people] == ["person-1", "person-2"]
    assert run.datasets == []  # an index without "datasets" means none
    assert run.providers == [run.individuals]


def test_several_events_need_the_event_parameter(tmp_path):
    on("FIRST")(lambda run: "first")
    on("SECOND")(lambda run: "second")
    assert (
        dispatch(world(tmp_path, events=("FIRST", "SECOND"), parameters={"event": "SECOND"}))
        == "second"
    )
    with pytest.raises(LookupError, match="several events"):
        dispatch(world(tmp_path / "b", events=("FIRST", "SECOND")))
    with pytest.raises(LookupError, match="not one this bundle declares"):
        dispatch(world(tmp_path / "c", events=("FIRST",), parameters={"event": "OTHER"}))


def test_an_event_without_a_handler_and_bad_registrations_are_refused(tmp_path):
    on("OTHER")(lambda run: None)
    with pytest.raises(
        LookupError, match="No handler for the event CHECK; this bundle handles: OTHER"
    ):
        dispatch(world(tmp_path))
    with pytest.raises(ValueError, match="not an event type"):
        on("lower case")
    with pytest.raises(ValueError, match="already has a handler"):
        on("OTHER")(lambda run: None)


def test_individuals_read_as_graphs_values_and_rows(tmp_path):
    on("CHECK")(lambda run: run)
    run = dispatch(world(tmp_path))
    graphs = run.individuals.graphs()
    # <#me> resolves per file: two people never become one node.
    assert len({s for g in graphs.values() for s in g.subjects()}) == 2
    assert sorted(v for _, v in run.individuals.values(SCHEMA_EMAIL)) == [
        "p0@example.org",
        "p1@example.org",
    ]
    rows = run.individuals.rows("orders.csv")
    assert [(r["person"], r["order"]) for r in rows] == [
        ("person-1", "0"),
        ("person-2", "0"),
        ("person-2", "1"),
    ]


def test_a_dataset_reads_as_typed_rows(tmp_path):
    columns = {"email": "string", "income": "decimal", "vip": "boolean", "since": "date",
               "visits": "integer"}  # fmt: skip
    schema = {"columns": [{"name": name, "type": kind} for name, kind in columns.items()]}
    text = (
        "email,income,vip,since,visits\n"
        "a@x.org,1200.50,true,2024-05-01,3\n"
        "b@x.org,,0,2023-01-31,0\n"
    )
    on("CHECK")(lambda run: run)
    run = dispatch(world(tmp_path, datasets=crm(tmp_path, text, schema=schema)))
    assert run.dataset("crm") is run.dataset("dataset-1") is run.datasets[0]
    rows = run.datasets[0].rows()
    assert rows[0] == {"email": "a@x.org", "income": Decimal("1200.50"), "vip": True,
                       "since": __import__("datetime").date(2024, 5, 1), "visits": 3}  # fmt: skip
    assert rows[1]["income"] is None
    assert rows[1]["vip"] is False
    with pytest.raises(LookupError, match="no dataset 'other'"):
        run.dataset("other")


def test_a_badly_typed_value_is_refused_without_quoting_it(tmp_path):
    schema = {"columns": [{"name": "income", "type": "integer"}]}
    on("CHECK")(lambda run: run)
    run = dispatch(world(tmp_path, datasets=crm(tmp_path, "income\nsecret@x.org\n", schema=schema)))
    with pytest.raises(InputError, match="line 2") as caught:
        run.datasets[0].rows()
    assert "secret" not in str(caught.value)


def test_rdf_and_parquet_datasets_say_how_to_read_them(tmp_path):
    turtle = '<https://org.example/c/1> <http://schema.org/email> "a@x.org" .'
    on("CHECK")(lambda run: run)
    run = dispatch(world(tmp_path, datasets=crm(tmp_path, turtle, fmt="turtle")))
    assert len(run.datasets[0].graph()) == 1
    with pytest.raises(InputError, match=r"read it with \.graph\(\)"):
        run.datasets[0].rows()
    parquet = world(tmp_path / "p", datasets=crm(tmp_path / "p", "PAR1", fmt="parquet"))
    with pytest.raises(InputError, match="Parquet"):
        dispatch(parquet).datasets[0].rows()


def test_a_dataset_file_outside_the_inputs_is_refused(tmp_path):
    datasets = crm(tmp_path, "email\n")
    datasets[0]["file"] = "../bundle/manifest.toml"
    on("CHECK")(lambda run: run)
    with pytest.raises(InputError, match="outside the inputs"):
        dispatch(world(tmp_path, datasets=datasets))


def report(**values) -> Graph:
    graph, node, ex = Graph(), URIRef("https://example.org/t#r"), "https://example.org/t#"
    graph.add(
        (node, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), URIRef(ex + "Report"))
    )
    for key, value in values.items():
        predicate = DCG_INDIVIDUALS if key == "individuals" else URIRef(ex + key)
        graph.add((node, predicate, value))
    return graph


def test_the_result_is_checked_against_the_shape_before_it_is_written(tmp_path):
    on("CHECK")(lambda run: run)
    ctx = world(tmp_path)
    run = dispatch(ctx)
    with pytest.raises(OutputError) as caught:
        run.write(report(count=Literal("7"), secret=Literal("x"), label=Literal(3)))
    text = str(caught.value)
    assert "which the shape does not allow" in text
    assert "count must be a xsd:integer" in text
    assert "label must be a xsd:string" in text
    assert "exactly one integer dcg:individuals" in text
    assert not ctx.output_dir.exists()  # nothing was written
    with pytest.raises(OutputError, match="under 0"):
        run.write(report(count=Literal(-1), individuals=Literal(5)))
    path = run.write(report(count=Literal(7), label=Literal("ok"), individuals=Literal(5)))
    assert (URIRef("https://example.org/t#r"), DCG_INDIVIDUALS, Literal(5)) in Graph().parse(path)
    assert datacage_sdk.shape_problems(Graph(), run.shape) == ["the result holds no statements"]

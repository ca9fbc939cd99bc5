"""Declared formats and schemas, checked before encrypting and again after decrypting."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from server.push.errors import SchemaMismatch, UnreadableData
from server.push.formats import check_file
from server.push.service import check_schema

SCHEMA = {
    "columns": [
        {"name": "email", "type": "string"},
        {"name": "orders", "type": "integer"},
        {"name": "spent", "type": "decimal"},
        {"name": "member", "type": "boolean"},
        {"name": "since", "type": "date"},
    ]
}
HEADER = "email,orders,spent,member,since\n"


def write(tmp_path, text: str, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_matching_csv_passes(tmp_path):
    rows = "a@example.org,3,19.50,true,2024-01-31\nb@example.org,0,-1e3,FALSE,\n"
    check_file(write(tmp_path, HEADER + rows), "csv", SCHEMA, "customers")


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (
            "a@x,three,1.0,true,2024-01-31\n",
            r"Row 1, column 'orders' \(column 2\).*'three' is not an integer",
        ),
        ("a@x,1,1.0,true,2024-01-31\nb@x,2,lots,true,2024-01-31\n", "Row 2, column 'spent'"),
        ("a@x,1,1.0,yes,2024-01-31\n", "column 'member'.*'yes' is not a boolean"),
        ("a@x,1,1.0,true,31/01/2024\n", "column 'since'.*is not a date"),
        ("a@x,1,1.0,true\n", "Row 1 .* has 4 values; its schema declares 5 columns"),
    ],
)
def test_a_csv_that_does_not_match_names_row_and_column(tmp_path, rows, words):
    with pytest.raises(SchemaMismatch, match=words):
        check_file(write(tmp_path, HEADER + rows), "csv", SCHEMA, "customers")


def test_a_csv_with_other_columns_is_refused(tmp_path):
    with pytest.raises(SchemaMismatch, match=r"columns \['mail', 'orders'\].*declares"):
        check_file(write(tmp_path, "mail,orders\n"), "csv", SCHEMA, "customers")
    with pytest.raises(SchemaMismatch, match="empty"):
        check_file(write(tmp_path, ""), "csv", SCHEMA, "customers")


def test_a_csv_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe\x00,1,1,true,2024-01-01\n")
    with pytest.raises(UnreadableData, match="not UTF-8"):
        check_file(path, "csv", SCHEMA, "customers")


def test_graphs_must_parse(tmp_path):
    good = '<http://example.org/a> <http://example.org/p> "x" .\n'
    check_file(write(tmp_path, good, "g.ttl"), "turtle", None, "graph")
    with pytest.raises(UnreadableData, match="does not parse"):
        check_file(write(tmp_path, "<http://example.org/a> <p> .", "bad.ttl"), "turtle", None, "g")
    check_file(
        write(tmp_path, '{"@id": "http://example.org/a", "http://example.org/p": "x"}', "g.json"),
        "jsonld",
        None,
        "graph",
    )
    with pytest.raises(UnreadableData):
        check_file(write(tmp_path, '{"@id": ', "bad.json"), "jsonld", None, "graph")


def test_parquet_schema_is_compared_column_by_column(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"email": ["a@x"], "orders": [3]}), path)
    schema = {
        "columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "integer"}]
    }
    check_file(path, "parquet", schema, "t")
    wrong = {"columns": [{"name": "email", "type": "string"}, {"name": "orders", "type": "date"}]}
    with pytest.raises(SchemaMismatch, match=r"'orders' .* holds int64 values, not date"):
        check_file(path, "parquet", wrong, "t")
    with pytest.raises(UnreadableData, match="cannot be read"):
        check_file(write(tmp_path, "not parquet", "x.parquet"), "parquet", schema, "t")


def test_declared_schemas_are_checked():
    assert check_schema("csv", SCHEMA) == SCHEMA
    assert check_schema("turtle", None) is None
    with pytest.raises(ValueError, match="needs a schema"):
        check_schema("csv", None)
    with pytest.raises(ValueError, match="use one of string"):
        check_schema("csv", {"columns": [{"name": "a", "type": "float"}]})
    with pytest.raises(ValueError, match="name of its own"):
        check_schema("csv", {"columns": [{"name": "a", "type": "string"}] * 2})

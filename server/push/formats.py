"""Checking a dataset against its declared format and schema, streaming, before it is used.

The provider runs these before encrypting (a mistake is caught on their own machine) and the
datacage runs them again after decrypting, before staging (it trusts nothing it was sent).
Each check raises `SchemaMismatch` or `UnreadableData` naming the row and column, or the line.

* CSV: UTF-8, a header row equal to the schema's column names in order, then rows with one
  value per column; an empty value is a missing one. Types: string (anything), integer
  (`-?[0-9]+`), decimal (`-?[0-9]+(.[0-9]+)?`, an optional exponent), boolean (true/false, any
  case), date (ISO 8601 `YYYY-MM-DD`).
* Parquet (needs the `parquet` extra, pyarrow): the file's schema has exactly these columns in
  this order, with compatible Arrow types.
* Turtle and JSON-LD: parsed completely (pyoxigraph); a syntax error names the line.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Any

import pyoxigraph

from .errors import SchemaMismatch, UnreadableData

try:
    import pyarrow.parquet as parquet
except ImportError:  # the `parquet` extra is not installed
    parquet = None

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CSV_FIELD_LIMIT = 1 << 20  # one value of a megabyte; longer is not a table cell
_ARROW_TYPES = {
    "string": ("string", "large_string"),
    "integer": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "decimal": ("float", "double", "halffloat", "decimal"),
    "boolean": ("bool",),
    "date": ("date32", "date64"),
}
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "turtle": "ttl", "jsonld": "jsonld"}


def check_file(path: Path, fmt: str, schema: dict[str, Any] | None, name: str) -> None:
    """Raise unless the file at `path` is valid `fmt` matching `schema`."""
    if fmt == "csv":
        check_csv(path, schema or {"columns": []}, name)
    elif fmt == "parquet":
        check_parquet(path, schema or {"columns": []}, name)
    elif fmt in ("turtle", "jsonld"):
        check_graph(path, fmt, name)
    else:
        raise UnreadableData(f"The dataset {name!r} has the unknown format {fmt[:20]!r}.")


def check_csv(path: Path, schema: dict[str, Any], name: str) -> None:
    columns = schema["columns"]
    expected = [c["name"] for c in columns]
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        with open(path, encoding="utf-8", newline="") as text:
            rows = csv.reader(text, strict=True)
            header = next(rows, None)
            if header is None:
                raise SchemaMismatch(f"The CSV dataset {name!r} is empty: it has no header row.")
            if [h.strip() for h in header] != expected:
                raise SchemaMismatch(
                    f"The CSV dataset {name!r} has the columns {_list(header)} in its header, "
                    f"but its schema declares {_list(expected)}."
                )
            for row_number, row in enumerate(rows, start=1):
                _check_row(row, row_number, columns, name)
    except UnicodeDecodeError as exc:
        raise UnreadableData(
            f"The CSV dataset {name!r} is not UTF-8 text ({exc.reason})."
        ) from None
    except csv.Error as exc:
        raise UnreadableData(f"The CSV dataset {name!r} is not valid CSV: {exc}.") from None


def _check_row(row: list[str], number: int, columns: list[dict[str, str]], name: str) -> None:
    if len(row) != len(columns):
        raise SchemaMismatch(
            f"Row {number} of the CSV dataset {name!r} has {len(row)} values; its schema "
            f"declares {len(columns)} columns."
        )
    for index, (value, column) in enumerate(zip(row, columns, strict=True), start=1):
        if value == "" or _fits(value, column["type"]):
            continue
        raise SchemaMismatch(
            f"Row {number}, column {column['name']!r} (column {index}) of the CSV dataset "
            f"{name!r}: {value[:40]!r} is not {_article(column['type'])}."
        )


def _fits(value: str, kind: str) -> bool:
    if kind == "string":
        return True
    if kind == "integer":
        return _INTEGER.fullmatch(value) is not None
    if kind == "decimal":
        return _DECIMAL.fullmatch(value) is not None
    if kind == "boolean":
        return value.lower() in ("true", "false")
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return len(value) == 10
    return False


def check_parquet(path: Path, schema: dict[str, Any], name: str) -> None:
    if parquet is None:
        raise UnreadableData(
            "Parquet datasets need pyarrow, which is not installed: "
            "pip install 'datacage[parquet]'."
        )
    try:
        found = parquet.read_schema(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid and OSError kinds
        raise UnreadableData(f"The Parquet dataset {name!r} cannot be read: {exc}") from None
    declared = schema["columns"]
    if list(found.names) != [c["name"] for c in declared]:
        raise SchemaMismatch(
            f"The Parquet dataset {name!r} has the columns {_list(found.names)}, but its schema "
            f"declares {_list([c['name'] for c in declared])}."
        )
    for index, column in enumerate(declared, start=1):
        arrow = str(found.field(index - 1).type)
        if not arrow.startswith(_ARROW_TYPES[column["type"]]):
            raise SchemaMismatch(
                f"Column {column['name']!r} (column {index}) of the Parquet dataset {name!r} "
                f"holds {arrow} values, not {column['type']}."
            )


def check_graph(path: Path, fmt: str, name: str) -> None:
    kind = pyoxigraph.RdfFormat.TURTLE if fmt == "turtle" else pyoxigraph.RdfFormat.JSON_LD
    try:
        with open(path, "rb") as data:
            for _ in pyoxigraph.parse(data, kind, base_iri="urn:datacage:dataset:"):
                pass
    except SyntaxError as exc:
        raise UnreadableData(f"The {fmt} dataset {name!r} does not parse: {exc}") from None
    except (ValueError, OSError) as exc:
        raise UnreadableData(f"The {fmt} dataset {name!r} cannot be read: {exc}") from None


def _list(names) -> str:
    shown = ", ".join(repr(str(n)[:40]) for n in list(names)[:20])
    return f"[{shown}]"


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"

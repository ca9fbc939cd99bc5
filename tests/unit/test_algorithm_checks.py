"""Algorithm bundles: the manifest, and whether it tells the truth about the code and the shape.

Each test breaks one thing in the sample bundle (tests/fixtures/bundles/common-customers) and
expects the sentence a code provider would read.
"""

import pytest

from server.algorithms import BundleError, BundleLimits, pack_files, parse_manifest, read_bundle
from tests.fixtures.bundles import common_customers, replaced

MANIFEST = "manifest.toml"
CODE = "common_customers.py"
SHAPE = "shapes/report.ttl"


def problems_of(files: dict[str, bytes], **limits: int) -> list[str]:
    with pytest.raises(BundleError) as caught:
        read_bundle(pack_files(files), limits=BundleLimits(**limits))
    return caught.value.problems


def only_problem(files: dict[str, bytes], **limits: int) -> str:
    problems = problems_of(files, **limits)
    assert len(problems) == 1, problems
    return problems[0]


def edited(path: str, old: str, new: str) -> dict[str, bytes]:
    return replaced(common_customers(), path, old, new)


def with_code(source: str, path: str = CODE) -> dict[str, bytes]:
    return common_customers({path: source.encode()})


def with_shape(turtle: str) -> dict[str, bytes]:
    return common_customers({SHAPE: turtle.encode()})


SH = "@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix ex: <https://example.org/> .\n"

# --- The manifest ------------------------------------------------------------------------------


def test_a_bundle_without_manifest_says_so():
    files = common_customers({MANIFEST: None})
    assert only_problem(files) == "The bundle has no manifest.toml at its root."


def test_a_manifest_in_a_subfolder_is_pointed_at():
    files = common_customers()
    files["docs/Manifest.toml"] = files.pop(MANIFEST)
    assert "there is 'docs/Manifest.toml'" in only_problem(files)


def test_invalid_toml_is_reported_with_its_line():
    problem = only_problem(edited(MANIFEST, 'version = "1.0.0"', "version = 1.0.0"))
    assert problem.startswith("manifest.toml is not valid TOML:")
    assert "line 3" in problem


def test_a_manifest_that_is_not_utf8_is_reported():
    files = common_customers({MANIFEST: b'[algorithm]\nname = "caf\xe9"\n'})
    assert only_problem(files) == "manifest.toml is not UTF-8 text (invalid byte at line 2)."


def test_a_misspelt_key_is_reported_not_ignored():
    problems = problems_of(edited(MANIFEST, "entry_point =", "entrypoint ="))
    assert (
        "manifest.toml: [algorithm] has an unknown key 'entrypoint' (did you mean 'entry_point'?)."
        in problems
    )
    assert "manifest.toml: [algorithm] is missing 'entry_point'." in problems


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[algorithm]", "[algoritm]", "unknown key 'algoritm' (did you mean 'algorithm'?)"),
        ("default = 5", "defualt = 5", "[parameters.min_overlap] has an unknown key 'defualt'"),
        ("events =", "triggers = 1\nevents =", "[algorithm] has an unknown key 'triggers'"),
    ],
)
def test_unknown_keys_anywhere_are_reported(old, new, message):
    assert any(message in problem for problem in problems_of(edited(MANIFEST, old, new)))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('description = "Finds', 'summary = "Finds', "[algorithm] is missing 'description'"),
        ('version = "1.0.0"', "version = 1", "version must be a string, not an integer"),
        ('"common-customers"', '"Common Customers"', "name 'Common Customers' must be a lowercase"),
        ('"common-customers"', '"common--customers"', "must be a lowercase slug"),
        ('"1.0.0"', '"1.0 beta"', "version '1.0 beta' must be a version like '1.0.0'"),
        ('"common_customers:run"', '"common_customers.run"', "must be 'module:function'"),
        ('"common_customers:run"', '"class:run"', "must be 'module:function'"),
        ('output_shape = "shapes/report.ttl"', "output_shape = []", "output_shape must be a str"),
    ],
)
def test_algorithm_fields_are_checked(old, new, message):
    assert any(message in problem for problem in problems_of(edited(MANIFEST, old, new)))


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("[]", "events must be a non-empty list of event names"),
        ('"CHECK"', "events must be a non-empty list of event names"),
        ('["check-common"]', "events has 'check-common'; an event name is A-Z, 0-9 and '_'"),
        ('["1ST_EVENT"]', "events has '1ST_EVENT'"),
        (f'["{"A" * 65}"]', "at most 64 characters"),
        ("[1]", "events has 1;"),
        ('["RUN", "RUN"]', "events lists RUN more than once"),
    ],
)
def test_event_names_are_checked(events, message):
    files = edited(MANIFEST, '["CHECK_COMMON_DEMO_CUSTOMERS"]', events)
    assert message in only_problem(files)


@pytest.mark.parametrize(
    ("type_", "default", "message"),
    [
        ("integer", '"5"', "default '5' is not of type integer"),
        ("integer", "true", "default True is not of type integer"),
        ("integer", "5.0", "default 5.0 is not of type integer"),
        ("number", "nan", "default nan is not of type number"),
        ("boolean", "1", "default 1 is not of type boolean"),
        ("string", "5", "default 5 is not of type string"),
        ("float", "5", "type must be one of integer, number, string, boolean"),
    ],
)
def test_parameter_defaults_must_have_the_declared_type(type_, default, message):
    files = edited(
        MANIFEST, 'type = "integer"\ndefault = 5', f'type = "{type_}"\ndefault = {default}'
    )
    assert only_problem(files) == f"manifest.toml: [parameters.min_overlap] {message}."


def test_parameters_of_every_type_are_read():
    manifest = parse_manifest(
        common_customers()[MANIFEST]
        + b'[parameters.ratio]\ntype = "number"\ndefault = 1\ndescription = "r"\n'
        + b'[parameters.label]\ntype = "string"\ndefault = ""\ndescription = "l"\n'
        + b'[parameters.strict]\ntype = "boolean"\ndefault = false\ndescription = "s"\n'
    )
    assert [(p.name, p.type, p.default) for p in manifest.parameters] == [
        ("min_overlap", "integer", 5),
        ("ratio", "number", 1),
        ("label", "string", ""),
        ("strict", "boolean", False),
    ]


def test_a_parameter_without_description_or_default_is_reported():
    problems = problems_of(edited(MANIFEST, "default = 5\ndescription = ", "whatever = "))
    assert "manifest.toml: [parameters.min_overlap] is missing 'description'." in problems
    assert "manifest.toml: [parameters.min_overlap] is missing 'default'." in problems


# --- The code ----------------------------------------------------------------------------------


def test_a_missing_entry_module_is_named():
    problem = only_problem(common_customers({CODE: None}))
    assert problem == (
        "manifest.toml: entry_point 'common_customers:run' names the module 'common_customers', "
        "but the bundle has neither common_customers.py nor common_customers/__init__.py."
    )


def test_a_missing_entry_function_is_named_with_what_the_module_defines():
    problem = only_problem(edited(MANIFEST, "common_customers:run", "common_customers:main"))
    assert problem == (
        "common_customers.py has no top-level function 'main' (it defines normalise, run), "
        "but manifest.toml names it as the entry_point 'common_customers:main'."
    )


@pytest.mark.parametrize(
    "source",
    [
        "class Algorithm:\n    def run(self, ctx):\n        pass\n",
        "if True:\n    def run(ctx):\n        pass\n",
        "run = lambda ctx: None\n",
        "from elsewhere import run\n",
    ],
)
def test_the_entry_function_must_be_defined_at_top_level(source):
    assert "has no top-level function 'run'" in only_problem(with_code(source))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def run():\n    pass\n", "run() must take the run context as its first positional"),
        ("def run(*, ctx):\n    pass\n", "run() must take the run context as its first positional"),
        ("def run(ctx, data):\n    pass\n", "so data must have default values"),
        ("def run(ctx, *, mode):\n    pass\n", "so mode must have default values"),
    ],
)
def test_the_entry_function_must_be_callable_with_the_context(source, message):
    problem = only_problem(with_code(source))
    assert problem.startswith("common_customers.py:1: run()")
    assert message in problem


@pytest.mark.parametrize(
    "source",
    [
        "async def run(ctx):\n    pass\n",
        "def run(*args):\n    pass\n",
        "def run(ctx, /, data=None, *, mode='fast'):\n    pass\n",
        "def run(ctx):\n    pass\n\n\ndef run(context, extra=1):\n    pass\n",
    ],
)
def test_entry_functions_that_can_be_called_with_the_context_pass(source):
    read_bundle(pack_files(with_code(source)))


@pytest.mark.parametrize("module_path", ["pkg/algo/__init__.py", "pkg/algo.py"])
def test_a_dotted_entry_point_finds_a_module_or_a_package(module_path):
    files = edited(MANIFEST, "common_customers:run", "pkg.algo:run")
    files[module_path] = files.pop(CODE)
    assert read_bundle(pack_files(files)).manifest.entry_module == "pkg.algo"


def test_a_syntax_error_is_reported_with_file_and_line():
    problem = only_problem(edited(CODE, "def run(ctx):", "def run(ctx)"))
    assert problem == "common_customers.py:13: expected ':'"


def test_every_python_file_is_parsed_not_only_the_entry_module():
    files = common_customers({"helpers/util.py": b"x = 1\n  y = 2\n"})
    assert only_problem(files) == "helpers/util.py:2: unexpected indent"


def test_python_that_is_not_utf8_is_reported_with_its_line():
    files = common_customers({"util.py": b"# helpers\nname = 'caf\xe9'\n"})
    assert only_problem(files) == "util.py:2: not UTF-8 (byte 0xe9); save the file as UTF-8."


def test_python_declaring_another_encoding_is_refused():
    files = common_customers({"util.py": b"# -*- coding: latin-1 -*-\nname = 'cafe'\n"})
    assert "util.py: declares the encoding 'iso-8859-1'" in only_problem(files)


def test_python_with_a_nul_byte_is_reported_with_its_line():
    files = common_customers({"util.py": b"x = 1\ny = '\x00'\n"})
    assert only_problem(files) == "util.py:2: source code cannot contain NUL bytes"


def test_the_code_is_parsed_never_run(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\n\ndef run(ctx):\n    pass\n"
    read_bundle(pack_files(with_code(source)))
    assert not marker.exists()


def test_too_much_python_is_refused_before_parsing():
    problem = only_problem(common_customers(), max_python_bytes=100)
    assert problem.startswith("The bundle's Python files add up to")


# --- The output shape ---------------------------------------------------------------------------


def test_a_missing_shape_is_named():
    files = common_customers({SHAPE: None})
    assert only_problem(files) == (
        "manifest.toml: output_shape 'shapes/report.ttl' is not a file in the bundle."
    )


def test_a_shape_that_is_not_turtle_is_reported_with_its_line():
    problem = only_problem(with_shape(SH + "ex:S a sh:NodeShape\nex:T a sh:NodeShape .\n"))
    assert problem.startswith("shapes/report.ttl:4: not valid Turtle:")


def test_json_is_not_turtle():
    assert only_problem(with_shape('{"@context": {}}')).startswith("shapes/report.ttl:1: not valid")


def test_a_graph_without_node_shapes_is_not_a_shapes_graph():
    problem = only_problem(with_shape(SH + "ex:Report ex:says 'hello' .\n"))
    assert "shapes/report.ttl is not a SHACL shapes graph: it declares no sh:NodeShape" in problem


def test_node_shapes_without_a_target_check_nothing():
    problem = only_problem(with_shape(SH + "ex:S a sh:NodeShape ; sh:closed true .\n"))
    assert problem.startswith("shapes/report.ttl: no sh:NodeShape has a target")


@pytest.mark.parametrize(
    ("turtle", "message"),
    [
        (
            "ex:S a sh:NodeShape ; sh:targetClass ex:R ; "
            'sh:property [ sh:path ex:p ; sh:minCount "one" ] .',
            "shapes/report.ttl is not valid SHACL: the sh:property of ex:S sh:minCount:",
        ),
        (
            "ex:S a sh:NodeShape ; sh:targetClass ex:R ; sh:property [ sh:datatype ex:T ] .",
            "shapes/report.ttl is not valid SHACL: the sh:property of ex:S sh:path:",
        ),
        (
            'ex:S a sh:NodeShape ; sh:targetClass "not an IRI" .',
            "shapes/report.ttl is not valid SHACL: ex:S sh:targetClass:",
        ),
    ],
)
def test_shapes_must_conform_to_shacl_for_shacl(turtle, message):
    assert only_problem(with_shape(SH + turtle)).startswith(message)


def test_a_shape_with_too_many_triples_is_refused_before_the_shacl_check():
    problem = only_problem(common_customers(), max_shape_triples=5)
    assert problem == "shapes/report.ttl has 12 triples; the limit for the output shape is 5."


def test_a_shape_over_its_limit_is_refused_before_parsing():
    problem = only_problem(common_customers(), max_shape_bytes=100)
    assert problem == "shapes/report.ttl is larger than 100 bytes, the limit for the output shape."


# --- All together -------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    files = edited(MANIFEST, '["CHECK_COMMON_DEMO_CUSTOMERS"]', '["oops"]')
    files = replaced(files, MANIFEST, "common_customers:run", "common_customers:main")
    files = replaced(files, MANIFEST, "shapes/report.ttl", "shapes/missing.ttl")
    files["broken.py"] = b"def (\n"
    with pytest.raises(BundleError) as caught:
        read_bundle(pack_files(files))
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert str(caught.value).splitlines() == problems

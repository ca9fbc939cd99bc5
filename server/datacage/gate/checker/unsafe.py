"""What an output shape may not use: SPARQL, and regular expressions a linear engine cannot run.

SPARQL in a shape is a program the gate would run on people's data, and one that can reach
outside (``SERVICE``; an escaped ``SERVIC\\u0045`` passes any check on the text, since rdflib
unescapes before parsing). So every SHACL-SPARQL term is refused, found as a *term of the parsed
graph* (the predicate or class IRI), never by reading query text: constraints (``sh:sparql``),
SPARQL-based constraint components and their validators, SPARQL targets and functions, rules.

``sh:pattern`` is run by RE2 in the gate (see ``.validate``), which takes linear time on any
input; a pattern RE2 cannot compile (back-references, look-around) is refused up front.
The same checks run when a bundle is registered and again in the gate.
"""

from __future__ import annotations

import re2
from rdflib import Graph, Literal
from rdflib.term import Node

from vocab import RDF, SH

# Predicates and classes of SHACL-SPARQL (SHACL sections 5 and 6) and of SHACL Advanced
# Features (targets, functions, rules), and of JavaScript extensions, which work the same way.
SPARQL_PREDICATES = (
    SH.sparql, SH.select, SH.ask, SH.construct, SH.update, SH.prefixes, SH.declare,
    SH.validator, SH.nodeValidator, SH.propertyValidator, SH.parameter, SH.labelTemplate,
    SH.target, SH.rule, SH.condition, SH.returnType, SH.js, SH.jsFunctionName, SH.jsLibrary,
    SH.jsLibraryURL, SH.shapesGraph, SH.entailment,
)  # fmt: skip
SPARQL_CLASSES = (
    SH.SPARQLConstraint, SH.SPARQLConstraintComponent, SH.ConstraintComponent,
    SH.SPARQLAskValidator, SH.SPARQLSelectValidator, SH.SPARQLExecutable, SH.SPARQLTarget,
    SH.SPARQLTargetType, SH.TargetType, SH.SPARQLFunction, SH.Function, SH.SPARQLRule,
    SH.SPARQLConstructExecutable, SH.SPARQLUpdateExecutable, SH.SPARQLSelectExecutable,
    SH.SPARQLAskExecutable, SH.JSConstraint, SH.JSFunction, SH.JSTarget, SH.JSRule,
    SH.Rule, SH.TripleRule, SH.Target, SH.JSExecutable, SH.JSLibrary,
)  # fmt: skip


def sparql_terms(shape: Graph) -> list[str]:
    """The SHACL-SPARQL (and -JS) terms the shapes graph uses, as ``sh:`` names."""
    found = {p for p in SPARQL_PREDICATES if (None, p, None) in shape}
    found |= {c for c in SPARQL_CLASSES if (None, RDF.type, c) in shape}
    found |= {c for c in SPARQL_CLASSES if (None, None, c) in shape}
    return sorted("sh:" + str(term)[len(str(SH)) :] for term in found)


def inline_flags(flags: Node | None) -> str:
    """SHACL's ``sh:flags`` (XPath's: s, m, i, x, q) as RE2's inline flags; x and q refused."""
    if flags is None:
        return ""
    letters = str(flags)
    if set(letters) - set("smi"):
        raise ValueError("only the flags s, m and i can be run")
    return f"(?{''.join(sorted(set(letters)))})" if letters else ""


def compile_pattern(pattern: Node, flags: Node | None) -> re2._Regexp:
    """``sh:pattern`` as RE2 runs it; raises ValueError if RE2 cannot (or will not) run it."""
    if not isinstance(pattern, Literal) or (flags is not None and not isinstance(flags, Literal)):
        raise ValueError("sh:pattern and sh:flags take literals")
    try:
        return re2.compile(inline_flags(flags) + str(pattern))
    except re2.error as error:
        raise ValueError(str(error)) from None


def pattern_problems(shape: Graph) -> int:
    """How many ``sh:pattern`` values (with their shape's ``sh:flags``) RE2 cannot run."""
    bad = 0
    for holder, pattern in shape.subject_objects(SH.pattern):
        try:
            compile_pattern(pattern, shape.value(holder, SH.flags))
        except ValueError:
            bad += 1
    return bad

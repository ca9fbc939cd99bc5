"""Collaboration spaces: the model, its RDF record, the rules, and the actions people take.

Read in this order: `model` (what a space is), `rdf` (its named graph in the registry),
`validation` (what input is accepted), `permissions` (who may do what), `lifecycle` (the
state machine and approvals), `store` (loading, caching and atomic writes), `actions` (the
service functions the web layer calls).
"""

"""The checks that run inside the gate's sandbox, on the algorithm's output and its shape.

This package is bound read-only into a bubblewrap sandbox of its own (see ``..isolation``) and
imported there under its own name, so it imports nothing of ``server``: only rdflib, pySHACL,
RE2, ``vocab`` and its own modules. The server imports it too (the same rules at registration
and for checking what the sandbox answers).
"""

"""Individuals' consent: explicit, purpose-bound, least-privilege and revocable.

A person consents to one space at a time, signed in at their own identity provider. Giving
consent writes three things that must stand or fall together: a Read grant for the datacage's
WebID on exactly the resources they were shown (`give`), a receipt in their own pod (`receipt`),
and the record in the registry (`store`). Withdrawal (`withdraw`) reverses them, registry first,
so a person is excluded from every later run the moment they ask.

Nothing here knows about HTTP requests or templates: `server.web.consent` drives it.
"""

from .model import Consent, ConsentHistory, ConsentState, PodResource

__all__ = ["Consent", "ConsentHistory", "ConsentState", "PodResource"]

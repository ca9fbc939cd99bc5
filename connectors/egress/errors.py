"""The one error of the egress policy and its one message, shared by the policy and its
transport (each imports this, not the other)."""

from __future__ import annotations

import requests

#: The one message for every failure, so no failure tells an open port from a closed one.
UNREACHABLE = "could not be reached"


class EgressError(requests.exceptions.ConnectionError):
    """The request was not carried out; deliberately says nothing of why (see `UNREACHABLE`)."""

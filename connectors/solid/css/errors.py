"""The one error the Community Solid Server test bed raises.

Starting a server and driving its account API fail in many ways (node missing, port taken, CSS
refusing a pod name); callers only need to know that the test bed, not their own code, failed,
and a sentence saying what to do. Subclassing `SolidError` lets the product's error edge treat
it like any other trouble with a Solid server.
"""

from __future__ import annotations

from connectors.solid.errors import SolidError


class CssError(SolidError):
    """The Community Solid Server could not be started, stopped or driven as asked."""

    http_status = 502

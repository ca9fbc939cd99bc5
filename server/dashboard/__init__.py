"""A space's dashboard: its figures gathered in a few registry queries and drawn as inline SVG.

`service.Dashboard` gathers (`figures`), `charts` draws, `svg` builds and escapes. The page is
`web/dashboard.py`; docs/spaces.md describes what it shows.
"""

from .service import Dashboard

__all__ = ["Dashboard"]

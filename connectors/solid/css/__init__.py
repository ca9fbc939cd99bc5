"""The Community Solid Server (CSS) as a local, disposable Solid server.

The test suite starts one per session and makes fresh pods per test; the benchmarks and the demo
use the same code, so it lives here rather than under `tests/`. Two pieces:

- `CommunitySolidServer` runs the pinned `@solid/community-server` from `node_modules` on a
  loopback port and guarantees the node process dies with us.
- `CssAccountApi` drives CSS's account JSON API (v0.5) to create accounts, pods and client
  credentials, the way a person would through the CSS web pages.
- `complete_password_login` walks CSS's login and consent screens (their JSON API) for a
  real authorization-code flow without a browser.
"""

from connectors.solid.css.accounts import ClientCredentials, CssAccountApi, PodAccount
from connectors.solid.css.errors import CssError
from connectors.solid.css.interaction import complete_password_login
from connectors.solid.css.process import CommunitySolidServer

__all__ = [
    "ClientCredentials",
    "CommunitySolidServer",
    "CssAccountApi",
    "CssError",
    "PodAccount",
    "complete_password_login",
]

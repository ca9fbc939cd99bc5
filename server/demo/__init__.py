"""`datacage demo`: the whole product on one machine, on embedded defaults (docs/demo.md).

A local Community Solid Server with seeded pods (a retailer, a bank and individuals with
customer records), the control plane and the datacage worker; the seed's spaces set up by the
organisations, consent given by most individuals through the real consent pages, the built-in
`common-customers` and `joint-stats` bundles run, and the reports delivered into the
retailer's pod. Modules: `seed` (who has which data), `stack` (the processes), `consent_flow`
(a person's consent, headless), `story` (what the organisations do), `check` (the reports
against plain sets), `cli` (the command and its progress bars).
"""

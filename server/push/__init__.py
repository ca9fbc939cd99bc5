"""Push: organisations' datasets encrypted to the enclave key, stored where they choose.

`envelope` is the format (docs/push.md), `formats` the checks of tables and graphs, `target`
the provider's check of the datacage's evidence, `provider` the whole push and `cli` the
`datacage push` commands; `records` and `service` are the control plane's record of published
evidence and registered datasets (served by `server.web.push_api`). The datacage's side is
`server.datacage.datasets`.
"""

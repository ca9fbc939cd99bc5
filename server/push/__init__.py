"""Push: organisations' datasets encrypted to the enclave key, stored where they choose.

`envelope` is the format (docs/push.md), `target` fetches and verifies the datacage's
evidence on the provider's side, `provider` is the whole push (`datacage push`), `registry`
and `api` are the control plane's record of pushed datasets and published evidence.
"""

"""The datacage: the data plane, the only place where personal data is in the clear.

It trusts nothing the control plane says about a job: before reading anyone's data it checks
the consent record in the registry itself (`consents`), and reads only what that record lists
(`pull`). Attestation, mutual TLS and the sandbox join it in later modules.
"""

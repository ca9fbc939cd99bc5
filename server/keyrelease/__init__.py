"""The key-release service: one fleet key per approved bundle, released only to attested workers.

A pushed dataset is sealed to a *fleet* key, so that any worker of the fleet can open it, and
not only the one whose enclave key a provider happened to see. The fleet's private keys live
in this service alone, apart from the control plane (which must never be able to open data):

* `statement`: the signed statement the service makes about a fleet key (which bundle, which
  release policy); shared by the service, the workers and the data providers who check it;
* `store`: the service's key file (0600): its signing key and the fleet key pairs;
* `release`: the release check (the worker's evidence against the trust policy that
  `datacage admission` uses, a fresh request signed by the enclave key) and the sealing;
* `app`: the HTTP face of `release`; `cli`: `datacage key-service ...`.

The only implementation today is the software stand-in (`SoftwareKeyService`): the keys are in
a file on the service's machine and the check is done in software, which its statements and
logs say. A cloud KMS with attestation-bound release fits behind `release.KeyReleaser`.
See docs/operations.md, "Pushed datasets in a fleet".
"""

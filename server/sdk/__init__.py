"""The code provider's local tools: run a bundle on sample data in the real sandbox and gate.

The SDK an algorithm imports is ``datacage_sdk`` (bound into the sandbox); this package is the
other half, on the author's machine: :func:`run_locally` stages samples in the datacage's input
layout and runs :func:`~server.datacage.sandbox.run_algorithm` and
:func:`~server.datacage.gate.check_output` exactly as a job does, so "works on my machine"
means "works in the cage". The ``datacage sdk`` commands wrap it (docs/sdk.md).
"""

from server.sdk.local import LocalRun, SampleError, run_locally, stage_samples

__all__ = ["LocalRun", "SampleError", "run_locally", "stage_samples"]

"""The job protocol: the one thing the two planes share.

The control plane (`server.web`, `server.runs`, `server.consent`, ...) hands the datacage a job
and hears back from it over `/api/datacage/` (server/web/datacage_api.py on one side,
server/datacage/control_plane.py on the other). Everything that crosses that line has its type
here, and both sides take it from here:

- `outcomes`: the fixed codes a run may report upwards: stage, outcome, notes, the gate's
  refusal rule, how pods were read.
- `pull_progress`: a pull's progress rows, one per pod server of the job's plan, and the rule
  a report must fit.
- `consents`: a consent in force as the job carries it (`JobConsent`), the pod resources it
  lets the datacage read (`PodResource`), and one read of them (`Read`) for the usage record.

Pure data: dataclasses, enums and their (de)serialisation. The data plane imports nothing else
of the control plane, and this package imports nothing of ours but `vocab`; both are checked
by `.importlinter` (tests/unit/test_import_contract.py).
"""

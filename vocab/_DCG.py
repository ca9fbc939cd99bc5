"""The datacage ontology as a closed namespace, mirrored by ``datacage.ttl``.

Spaces, approvals, runs, results and audit events are written as RDF by the control plane and
the datacage alike; one closed namespace keeps both sides naming the same things.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class DCG(DefinedNamespace):
    """Datacage ontology: collaboration spaces, approvals, runs and their provenance.

    Source: ``vocab/datacage.ttl`` (an owl:Ontology, version 0.1.0), reusing PROV-O, DPV 2,
    ODRL and SHACL.
    """

    _fail = True
    _NS = Namespace("https://w3id.org/datacage/ns#")

    # http://www.w3.org/2002/07/owl#Class
    RunStatus: URIRef  # Where a run stands.
    Algorithm: URIRef  # Code, named by digest, that can be approved and run.
    Approval: URIRef  # A participant's approval of an algorithm digest.
    ApprovalStatus: URIRef  # Whether an approval stands.
    AttestationEvidence: URIRef  # Proof the datacage is trusted and runs approved code.
    AuditEvent: URIRef  # A hash-chained entry in the audit log.
    CollaborationSpace: URIRef  # Participants sharing data for one stated purpose.
    DataRequest: URIRef  # What individuals are asked to share, in plain words.
    Datacage: URIRef  # The trusted environment that runs approved code.
    Dataset: URIRef  # An organisation's dataset, encrypted to the enclave key.
    Delivery: URIRef  # Writing results into a consumer's pod.
    GateOutcome: URIRef  # The kind of decision the output gate reached.
    GateVerdict: URIRef  # The output gate's decision on a run's results.
    PodServerProgress: URIRef  # How far a run's pull has got at one pod server.
    Invitation: URIRef  # An offer to join a space in given roles.
    InvitationStatus: URIRef  # Whether an invitation is open, accepted or withdrawn.
    OutputShape: URIRef  # The declared form of an algorithm's results.
    Participation: URIRef  # One agent taking part in one space.
    Result: URIRef  # Derived data produced by a run.
    Role: URIRef  # A part an agent plays in a space.
    Run: URIRef  # One execution of an approved algorithm.
    SpaceStatus: URIRef  # The stage of a space's life.
    UsageRecord: URIRef  # One use of one input by one run.

    # http://www.w3.org/2002/07/owl#NamedIndividual
    ApprovalGiven: URIRef  # The approval stands.
    ApprovalRevoked: URIRef  # The approval was taken back.
    ApprovalVoided: URIRef  # The terms changed; the approval no longer counts.
    CodeProviderRole: URIRef  # Supplies the algorithm.
    DataConsumerRole: URIRef  # Receives results in their pod.
    DataProviderRole: URIRef  # Brings data to the space.
    GateBlocked: URIRef  # Results held back.
    RunQueued: URIRef  # Waiting for the datacage.
    RunRunning: URIRef  # Under way in the datacage.
    RunSucceeded: URIRef  # Ended with a result that passed the gate.
    RunFailed: URIRef  # Ended without a result.
    GatePassed: URIRef  # Results may be delivered.
    SpaceActive: URIRef  # The space is open.
    SpaceClosed: URIRef  # The space has ended.
    SpaceDraft: URIRef  # The space is being set up.
    SpaceAwaitingApproval: URIRef  # Terms complete; approvals missing.
    InvitationAccepted: URIRef  # The invitee joined.
    InvitationPending: URIRef  # Not answered yet.
    InvitationWithdrawn: URIRef  # Taken back by the owner.

    # http://www.w3.org/2002/07/owl#ObjectProperty
    readsResource: URIRef  # A pod resource the consent lets the datacage read.
    readsContainer: URIRef  # A pod container the consent lets the datacage read, members too.
    grantee: URIRef  # The WebID given Read: the datacage's own.
    receipt: URIRef  # The data subject's copy of the consent receipt.
    agent: URIRef  # The WebID a participation or consent history is about.
    approval: URIRef  # An approval given in the space.
    invitation: URIRef  # An invitation the space sent.
    owner: URIRef  # The WebID that created the space.
    algorithm: URIRef  # The algorithm something is about.
    approvedBy: URIRef  # Who gave an approval.
    approves: URIRef  # The algorithm an approval is for.
    dataRequest: URIRef  # What a space asks individuals to share.
    deliveredTo: URIRef  # The consumer who received results.
    evidence: URIRef  # The attestation evidence checked.
    invitedRoles: URIRef  # A role offered to the invitee.
    invitee: URIRef  # The WebID invited.
    legalBasis: URIRef  # The legal ground a space relies on.
    outputShape: URIRef  # The shape an algorithm's results must fit.
    participant: URIRef  # Links a space to a participation.
    purpose: URIRef  # The purpose of a space.
    resourceClass: URIRef  # An RDF class a data request covers.
    result: URIRef  # The result a run produced.
    deliveryOf: URIRef  # The run whose result a delivery carries.
    deliveredCopy: URIRef  # The resource a delivery wrote into the consumer's pod.
    resultContainer: URIRef  # Where in the consumer's pod results went.
    role: URIRef  # A role held in a participation.
    space: URIRef  # The space something belongs to.
    status: URIRef  # The current state of a space, approval or verdict.
    usedConsent: URIRef  # A consent a run relied on.
    verdict: URIRef  # The gate verdict on a run.
    pullProgress: URIRef  # A run's pull progress at one pod server.
    shapePath: URIRef  # The output shape's property a gate refusal is about.

    # http://www.w3.org/2002/07/owl#DatatypeProperty
    stage: URIRef  # What a run is doing, in plain words.
    progress: URIRef  # How far a run has got, 0 to 1.
    individualsIncluded: URIRef  # People whose consent counted when a run was planned.
    individualsRead: URIRef  # People whose data a run read.
    pullTransport: URIRef  # How a run read pods: "tls" or "plain-http" (development).
    podServer: URIRef  # The origin of a pod server a run reads.
    peopleToRead: URIRef  # People a run is to read at one pod server.
    peopleRead: URIRef  # People a run has read at one pod server.
    peopleFailed: URIRef  # People at one pod server a run could not read.
    problem: URIRef  # Something that went wrong, in plain words.
    runLog: URIRef  # What the algorithm logged, scrubbed of input values.
    outcome: URIRef  # How a run ended, as a fixed code.
    runNote: URIRef  # Something that happened along a run, as a fixed code.
    leaseUntil: URIRef  # When the claiming datacage's hold on a run ends unless renewed.
    leaseDigest: URIRef  # SHA-256 of the lease token of the datacage holding a run.
    claimCount: URIRef  # How many times a datacage claimed a run.
    gateRule: URIRef  # The output gate's rule a refusal broke, as a fixed code.
    consentPeriod: URIRef  # How long a consent lasts.
    recurringRuns: URIRef  # The space runs repeatedly.
    minimumIndividuals: URIRef  # The fewest individuals an aggregate in a result may cover.
    acceptedMeasurement: URIRef  # A hardware launch measurement the space accepts.
    individuals: URIRef  # How many distinct individuals an aggregate derives from.
    mayContainIdentifiers: URIRef  # A property shape's values may hold input identifiers.
    accessSystem: URIRef  # "WAC" or "ACP".
    givenAt: URIRef  # Deprecated: when consent was given (now dpv:isIndicatedAtTime).
    expiresAt: URIRef  # When consent stops counting.
    withdrawnAt: URIRef  # When consent stopped counting.
    withdrawalReason: URIRef  # Why consent stopped counting.
    grantRemovedAt: URIRef  # When the pod grant was removed.
    startedAt: URIRef  # When writing a consent began.
    acceptedAt: URIRef  # When an invitation was accepted.
    entryPoint: URIRef  # module:function the datacage calls.
    handlesEvent: URIRef  # An event the algorithm handles.
    parameters: URIRef  # The manifest's parameters, as JSON.
    revision: URIRef  # Times a registry graph was written.
    termsDigest: URIRef  # Digest of the exact terms approved.
    writeToken: URIRef  # Names the write behind a graph's revision.
    escapedLiteral: URIRef  # A literal Virtuoso cannot store, as the Virtuoso registry keeps it.
    attestationProvider: URIRef  # What produced the attestation evidence.
    digest: URIRef  # "sha256:<hex>" content hash.
    eventHash: URIRef  # Hash of an event chained to the previous one.
    inputVersion: URIRef  # ETag of an input as read.
    keyThumbprint: URIRef  # RFC 7638 thumbprint of the enclave key.
    measurement: URIRef  # Hash of the code the environment reports running.
    plainDescription: URIRef  # An explanation in everyday words.
    previousEventHash: URIRef  # Hash of the event before this one.
    resourcePath: URIRef  # A pod path a data request covers.
    retentionPeriod: URIRef  # How long results and records may be kept.
    sequence: URIRef  # Position of an event in the audit log.

    # Figures kept as records are written (docs/registry.md)
    # http://www.w3.org/2002/07/owl#Class
    Tally: URIRef  # Counters changed in the same write as the records they count.
    # http://www.w3.org/2002/07/owl#DatatypeProperty
    count: URIRef  # How many records a counter counts.
    counterOf: URIRef  # What a counter counts, as a short code.
    onDay: URIRef  # The UTC day a day counter counts.
    atTime: URIRef  # The instant an instant counter counts.
    inForceEntry: URIRef  # A consent's line in its space's index of consents in force.

    # Push: organisations' datasets encrypted to the enclave key (docs/push.md)
    pushedDataset: URIRef  # A dataset pushed to the space.
    connector: URIRef  # The kind of storage a dataset is kept in.
    storageLocation: URIRef  # Where an encrypted dataset is kept.
    readGrant: URIRef  # The datacage's read-only credential, as JSON.
    tableSchema: URIRef  # A table's declared columns, as JSON.
    evidenceDigest: URIRef  # SHA-256 of the evidence data was encrypted after.
    enclaveKeyDigest: URIRef  # SHA-256 of the enclave public key.
    evidenceDocument: URIRef  # The evidence as published.
    enclavePublicKey: URIRef  # The enclave's public key (PEM) evidence vouches for.
    fleetKeyStatement: URIRef  # The key service's signed statement of the fleet key.

    # --- Result delivery and signed provenance (docs/delivery.md) ---
    # http://www.w3.org/2002/07/owl#Class
    ResultDestination: URIRef  # A consumer's designated container for one space's results.
    # http://www.w3.org/2002/07/owl#ObjectProperty
    grantedMode: URIRef  # A mode the datacage holds on a destination.
    # http://www.w3.org/2002/07/owl#DatatypeProperty
    signature: URIRef  # Detached ES256 JWS over the canonical result graph.
    deliveryState: URIRef  # delivered, retrying, failed, destroyed or no-destination.
    deliveryAttempts: URIRef  # Times the datacage tried to write a result.
    notified: URIRef  # The consumer's inbox took the notification.
    stateReportedAt: URIRef  # When the delivery's state was last reported.

    # The audit trail's chain per space, and usage receipts in pods (docs/audit.md)
    AuditLog: URIRef  # The head of one space's audit chain.
    auditAction: URIRef  # What happened, as a short code.
    usageRecords: URIRef  # Pod container the datacage may append usage records to.
    resultsSentTo: URIRef  # A consumer who received a run's results.

    # Differential privacy as a term of a space (docs/datafuse.md)
    # http://www.w3.org/2002/07/owl#Class
    DifferentialPrivacy: URIRef  # Calibrated noise approved as a space's term.
    # http://www.w3.org/2002/07/owl#ObjectProperty
    differentialPrivacy: URIRef  # The differential-privacy term results are released under.
    # http://www.w3.org/2002/07/owl#DatatypeProperty
    epsilon: URIRef  # The privacy budget of one run.
    noiseMechanism: URIRef  # The distribution noise is drawn from.
    clampLower: URIRef  # Values below it count as it in a sum.
    clampUpper: URIRef  # Values above it count as it in a sum.
    # Provenance that keeps entities and activities apart, and the ODRL profile
    # http://www.w3.org/2002/07/owl#ObjectProperty
    underConsent: URIRef  # The consent an entity was read or made under.
    # http://www.w3.org/ns/odrl/2/LeftOperand
    algorithmDigest: URIRef  # ODRL left operand: the algorithm bundle's digest.

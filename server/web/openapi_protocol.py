"""The OpenAPI paths of the job protocol (`server.web.datacage_api`) and of push
(`server.web.push_api`): the only routes the datacage calls, and where data providers register
what they pushed.

The claim answers JSON lines (`application/x-ndjson`); OpenAPI 3.1 has no word for "each line
is one of these", so its schema describes one line, and the description says so.
"""

from __future__ import annotations

from .openapi_parts import (
    DIGEST,
    HEX64,
    NO_CONTENT,
    WEBID,
    WHEN,
    Schema,
    array,
    json_content,
    nullable,
    obj,
    op,
    paths,
    ref,
    string,
)

_DATACAGE_ONLY = "Only the deployment's datacage (DATACAGE_WEBID, DPoP)."
_LEASE = {
    "name": "Datacage-Lease",
    "in": "header",
    "required": True,
    "description": "The lease token the claim gave (`job.lease.token`); a lapsed or replaced "
    "lease is refused with 409.",
    "schema": string(),
}
_IRI = string(format="uri")

# --- What the datacage is told ------------------------------------------------------------------

_JOB_CONSENT = obj(
    {
        "iri": string("The consent, as the claim listed it.", format="uri"),
        "subject": WEBID,
        "resources": array(obj({"url": _IRI, "is_container": {"type": "boolean"}})),
        "usage_records": nullable(
            "string",
            format="uri",
            description="The person's Append-only container for usage records, if any.",
        ),
        "purposes": array(_IRI),
    }
)
_DATASET_FIELDS: dict[str, Schema] = {
    "id": string(),
    "provider": WEBID,
    "name": string(),
    "connector": string("Which push connector reads it (`s3`, `azure-blob`, `file`, ...)."),
    "format": string(enum=["csv", "parquet", "turtle", "jsonld"]),
    "schema": nullable(
        "object", description='For tables: `{"columns": [{"name", "type"}]}`; otherwise null.'
    ),
    "ciphertext_digest": DIGEST,
    "size": {"type": "integer", "minimum": 0},
    "evidence_sha256": HEX64,
    "key_sha256": HEX64,
}
_GRANT = {
    "type": "object",
    "description": "A read-only credential to the ciphertext (a presigned or SAS URL): the "
    "datacage's alone, never shown on pages or to participants.",
    "additionalProperties": {"type": "string"},
}
_JOB = obj(
    {
        "run": obj({"id": string(), "iri": _IRI}),
        "space": obj(
            {
                "id": string(),
                "iri": _IRI,
                "name": string(),
                "min_individuals": {"type": "integer"},
                "differential_privacy": nullable("object"),
                "purposes": array(_IRI),
                "consumers": array(WEBID),
            }
        ),
        "algorithm": obj({"digest": DIGEST, "parameters": {"type": "object"}}),
        "consent_count": {"type": "integer", "minimum": 0},
        "deliveries": array(
            obj({"consumer": WEBID, "container": nullable("string"), "inbox": nullable("string")})
        ),
        "pod_servers": {
            **array(string(format="uri")),
            "description": "The pull's plan: one origin per row, as pull-progress counts them.",
        },
        "lease": {
            "oneOf": [
                obj({"token": string(), "until": WHEN, "seconds": {"type": "number"}}),
                {"type": "null"},
            ]
        },
        "datasets": array(obj({**_DATASET_FIELDS, "grant": _GRANT})),
    }
)
_JOB_LINES = {
    "description": 'The job as JSON lines, read one at a time: first `{"job": {...}}` (the '
    "run, space, algorithm, `consent_count`, deliveries, datasets, the lease), then lines "
    '`{"consents": [IRI, ...]}` of at most 1000 consent IRIs, the consents in force at the '
    'claim, then `{"end": {"consents": N}}`. A stream without its end line is incomplete. '
    "The schema describes one line.",
    "content": {"application/x-ndjson": {"schema": ref("JobLine")}},
}
_CLAIMED = {200: _JOB_LINES, 204: {"description": "No run waits for this bundle."}}
_EVIDENCE = json_content(obj({"evidence": string("The attestation evidence (JSON).")}))

#: The key service's statement of a fleet key, as it travels (server/keyrelease/statement.py).
_FLEET_KEY = obj(
    {
        "statement": string("The datacage-fleet-key-v1 statement, JSON text.", maxLength=32768),
        "signature": string("The key service's Ed25519 signature, base64url.", maxLength=200),
    }
)

PROTOCOL_SCHEMAS: dict[str, Schema] = {
    "JobLine": {
        "oneOf": [
            obj({"job": _JOB}),
            obj({"consents": {**array(_IRI), "maxItems": 1000}}),
            obj({"end": obj({"consents": {"type": "integer", "minimum": 0}})}),
        ]
    },
    "JobConsent": _JOB_CONSENT,
    "Dataset": obj(
        {
            **_DATASET_FIELDS,
            "location": string("Where it is kept, without credentials."),
            "registered_at": WHEN,
        }
    ),
    "DatasetRegistration": obj(
        {
            **{k: v for k, v in _DATASET_FIELDS.items() if k not in ("id", "provider")},
            "name": string("1-120 letters, digits, spaces, dots, dashes or underscores."),
            "location": string("Where it is kept, without a query.", maxLength=2000),
            "grant": _GRANT,
        }
    ),
    "PublishedEvidence": obj(
        {
            "space": _IRI,
            "datacage": string("The datacage's WebID (empty if none is configured)."),
            "bundle_digest": DIGEST,
            "evidence": string("The evidence JSON, as the datacage made it."),
            "evidence_sha256": HEX64,
            "public_key": string("The enclave public key (PEM) the evidence vouches for."),
            "published_at": WHEN,
            "fleet_key": {
                "oneOf": [{"type": "null"}, _FLEET_KEY],
                "description": "With a fleet's key service: its signed statement of the fleet "
                "key to seal to instead of the enclave key (docs/operations.md).",
            },
        }
    ),
}

# --- The job protocol -----------------------------------------------------------------------------

_RUN_REFUSALS = (401, 403, 404, 409, 422, 503)


def _run_op(operation_id: str, summary: str, body: Schema, ok: dict | None = None) -> Schema:
    """A report on a claimed run: under its lease, answered 204 unless `ok` says otherwise."""
    return {
        **op(operation_id, summary, ok or NO_CONTENT, _RUN_REFUSALS, json_content(body)),
        "parameters": [_LEASE],
    }


DATACAGE_PATHS = paths(
    {
        "/api/datacage/next": {
            "get": op(
                "nextRun",
                "The algorithm digest of the oldest queued run, so the datacage can attest to "
                "that bundle. " + _DATACAGE_ONLY,
                {
                    200: json_content(obj({"digest": DIGEST})) | {"description": "A run waits."},
                    204: {"description": "No run waits."},
                },
                (401, 403, 503),
            )
        },
        "/api/datacage/bundles/{digest}": {
            "get": op(
                "getBundle",
                "The bundle a queued run needs, fetched before the claim. " + _DATACAGE_ONLY,
                {
                    200: {
                        "description": "The bundle as registered.",
                        "content": {"application/zip": {"schema": {"type": "string"}}},
                    }
                },
                (401, 403, 404, 503),
            )
        },
        "/api/datacage/waiting": {
            "get": op(
                "waitingRuns",
                "The runs waiting for a datacage, lapsed leases applied first; `offer` counts "
                "the claims so far, so the same offer sent twice is one task. " + _DATACAGE_ONLY,
                {
                    200: json_content(
                        obj(
                            {
                                "runs": array(
                                    obj(
                                        {
                                            "run": string(),
                                            "digest": DIGEST,
                                            "offer": {"type": "integer", "minimum": 0},
                                        }
                                    )
                                )
                            }
                        )
                    )
                    | {"description": "Oldest first."}
                },
                (401, 403, 503),
            )
        },
        "/api/datacage/claim": {
            "post": op(
                "claimRun",
                "Claim the oldest queued run of the attested bundle, in one atomic step (a run "
                "is claimed once). " + _DATACAGE_ONLY,
                _CLAIMED,
                (401, 403, 409, 422, 503),
                _EVIDENCE,
            )
        },
        "/api/datacage/runs/{run_id}/claim": {
            "post": op(
                "claimThisRun",
                "Claim one named run (a fleet's task), with attestation to its bundle.",
                {**_CLAIMED, 204: {"description": "This run is not waiting (any more)."}},
                _RUN_REFUSALS,
                _EVIDENCE,
            )
        },
        "/api/datacage/runs/{run_id}/lease": {
            "post": {
                **op(
                    "renewLease",
                    "Extend the lease while the datacage works; refused once it lapsed.",
                    {
                        200: json_content(obj({"until": WHEN}))
                        | {"description": "Renewed until then."}
                    },
                    (401, 403, 404, 409, 503),
                ),
                "parameters": [_LEASE],
            }
        },
        "/api/datacage/runs/{run_id}/consents/check": {
            "post": _run_op(
                "checkConsents",
                "Which of up to 500 consents the running run may read right now (given, not "
                "expired, under the run's terms, the person's latest), each with what it lets "
                "the datacage read, in the order asked. Any other consent is left out, without "
                "saying why. Asked per page of people and again right before each read.",
                obj({"consents": {**array(string(format="uri")), "minItems": 1, "maxItems": 500}}),
                {
                    200: json_content(obj({"in_force": array(ref("JobConsent"))}))
                    | {"description": "The consents in force."}
                },
            )
        },
        "/api/datacage/runs/{run_id}/consent": {
            "get": {
                **op(
                    "checkConsent",
                    "One consent at a time (the batch route is the one the datacage uses).",
                    {
                        200: json_content(obj({"in_force": {"type": "boolean"}}))
                        | {"description": "Whether it is in force."}
                    },
                    (401, 403, 404, 409, 503),
                ),
                "parameters": [
                    _LEASE,
                    {"name": "iri", "in": "query", "required": True, "schema": string()},
                ],
            }
        },
        "/api/datacage/runs/{run_id}/refusals": {
            "post": _run_op(
                "reportRefusal",
                "A pod refused a read the consent lists (the grant was removed).",
                obj({"consent": _IRI, "url": _IRI}),
            )
        },
        "/api/datacage/runs/{run_id}/usage": {
            "post": _run_op(
                "reportUsage",
                "What was read under one consent; goes into the person's usage records.",
                obj(
                    {
                        "consent": _IRI,
                        "reads": {
                            **array(obj({"url": _IRI, "version": nullable("string")})),
                            "maxItems": 10_000,
                        },
                    }
                ),
            )
        },
        "/api/datacage/runs/{run_id}/progress": {
            "post": _run_op(
                "reportProgress",
                "The stage the run reached (a code of `server.protocol.outcomes`).",
                obj({"stage": string(), "step": {"type": "integer", "minimum": 0, "maximum": 4}}),
            )
        },
        "/api/datacage/runs/{run_id}/pull-progress": {
            "post": _run_op(
                "reportPullProgress",
                "Counts per row of the job's `pod_servers` plan, nothing else.",
                obj(
                    {
                        "pod_servers": {
                            **array(
                                obj(
                                    {
                                        "read": {"type": "integer", "minimum": 0},
                                        "failed": {"type": "integer", "minimum": 0},
                                    }
                                )
                            ),
                            "maxItems": 100,
                        }
                    }
                ),
            )
        },
        "/api/datacage/runs/{run_id}/finish": {
            "post": _run_op(
                "finishRun",
                "How the run ended, in codes of fixed vocabularies: free text is refused.",
                obj(
                    {
                        "outcome": string(maxLength=200),
                        "refusal": {
                            "oneOf": [
                                obj({"rule": string(), "shape_path": nullable("string")}),
                                {"type": "null"},
                            ]
                        },
                        "notes": {**array(string(maxLength=200)), "maxItems": 19},
                        "individuals_read": {"type": "integer", "minimum": 0},
                        "result_digest": nullable("string"),
                        "result_size": nullable("integer"),
                        "pull_transport": string(),
                    }
                ),
            )
        },
        "/api/datacage/runs/{run_id}/deliveries": {
            "post": {
                **_run_op(
                    "reportDelivery",
                    "How one consumer's delivery stands; accepted after the run finished too.",
                    obj(
                        {
                            "consumer": WEBID,
                            "state": string(),
                            "attempts": {"type": "integer", "minimum": 0},
                            "location": nullable("string"),
                            "detail": string(),
                            "notified": {"type": "boolean"},
                        }
                    ),
                ),
                "parameters": [],  # retries outlive the lease: the claiming datacage suffices
            }
        },
        "/api/datacage/push/wanted": {
            "get": op(
                "wantedEvidence",
                "Bundle digests to attest to for push: each open space's current algorithm. "
                + _DATACAGE_ONLY,
                {
                    200: json_content(obj({"digests": array(DIGEST)}))
                    | {"description": "The digests."}
                },
                (401, 403, 503),
            )
        },
        "/api/datacage/push/evidence": {
            "post": op(
                "publishEvidence",
                "Publish evidence and the enclave public key it vouches for, so data providers "
                "can seal datasets to it. " + _DATACAGE_ONLY,
                NO_CONTENT,
                (401, 403, 409, 422, 503),
                json_content(
                    obj(
                        {
                            "evidence": string(),
                            "public_key": string("PEM."),
                            "fleet_key": _FLEET_KEY,
                        },
                        required=["evidence", "public_key"],
                    )
                ),
            )
        },
        "/api/datacage/schedule/recurring": {
            "post": op(
                "tickRecurring",
                "A tick of the schedule: start the next run of every recurring space that is "
                "due (active, approved, nothing under way, its last run an interval old). A "
                "tick sent twice, or by two beats, starts each run once. " + _DATACAGE_ONLY,
                {
                    200: json_content(obj({"started": array(string()), "lost": array(string())}))
                    | {"description": "Runs started; spaces whose run another tick started."}
                },
                (401, 403, 503),
            )
        },
        "/api/datacage/schedule/expiry": {
            "post": op(
                "tickExpiry",
                "A tick of the schedule: end the consents whose period is over and take their "
                "grants out of the pods where a kept sign-in allows. " + _DATACAGE_ONLY,
                {
                    200: json_content(
                        obj(
                            {
                                name: {"type": "integer", "minimum": 0}
                                for name in ("expired", "cleaned", "left")
                            }
                        )
                    )
                    | {"description": "How many consents ended, cleaned, and left to clean."}
                },
                (401, 403, 503),
            )
        },
    }
)

# --- Push: data providers ------------------------------------------------------------------------

PUSH_PATHS = paths(
    {
        "/api/spaces/{space_id}/push/evidence": {
            "get": op(
                "getPushEvidence",
                "The latest evidence for the space's current algorithm, with the key to seal "
                "a dataset to (data providers).",
                {200: json_content(ref("PublishedEvidence")) | {"description": "Verify it first."}},
                (401, 403, 404, 409, 503),
            )
        },
        "/api/spaces/{space_id}/datasets": {
            "get": op(
                "listDatasets",
                "The space's pushed datasets, without their read grants (participants).",
                {
                    200: json_content(obj({"datasets": array(ref("Dataset"))}))
                    | {"description": "The datasets."}
                },
                (401, 403, 404, 503),
            ),
            "post": op(
                "registerDataset",
                "Register a dataset pushed, sealed to the published key (data provider).",
                {
                    201: json_content(ref("Dataset"))
                    | {
                        "description": "Registered.",
                        "headers": {
                            "Location": {"description": "Its IRI.", "schema": string(format="uri")}
                        },
                    }
                },
                (401, 403, 404, 409, 422, 503),
                json_content(ref("DatasetRegistration")),
            ),
        },
    }
)

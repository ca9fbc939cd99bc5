"""The job protocol's consent rows (server/protocol/consents.py), as both planes write and read
them: what the control plane writes the datacage reads back unchanged, and what does not fit is
refused."""

from __future__ import annotations

import pytest

from server.protocol.consents import JobConsent, PodResource, Read

CONSENT = JobConsent(
    "https://dc.example/consents/h1/1",
    "https://alice.example/profile/card#me",
    (
        PodResource("https://alice.example/health/steps.ttl"),
        PodResource("https://alice.example/diary/", True),
    ),
    "https://alice.example/usage/",
    ("https://w3id.org/dpv#ScientificResearch",),
)


def test_a_consent_row_reads_back_as_it_was_written():
    assert JobConsent.from_json(CONSENT.as_json()) == CONSENT
    older = {k: v for k, v in CONSENT.as_json().items() if k not in ("usage_records", "purposes")}
    assert JobConsent.from_json(older) == JobConsent(
        CONSENT.iri, CONSENT.subject, CONSENT.resources
    )


def test_a_read_reads_back_as_it_was_written():
    for read in (
        Read("https://alice.example/health/steps.ttl", '"etag-1"'),
        Read("https://a.example/x", None),
    ):
        assert Read.from_json(read.as_json()) == read


def test_only_a_literal_true_makes_a_whole_container_readable():
    for sneaky in ("true", 1, "yes", [True]):
        row = {"url": "https://alice.example/", "is_container": sneaky}
        assert PodResource.from_json(row) == PodResource("https://alice.example/", False)


@pytest.mark.parametrize(
    "change",
    [
        {"iri": None},
        {"subject": 7},
        {"resources": [{"url": ["https://a.example/"], "is_container": False}]},
        {"resources": [{"is_container": False}]},
        {"usage_records": {"url": "https://a.example/usage/"}},
        {"purposes": [1]},
        {"resources": ["https://a.example/"]},
        {"resources": "https://a.example/"},
    ],
)
def test_a_consent_row_that_does_not_fit_is_refused(change):
    with pytest.raises((KeyError, TypeError, ValueError)):
        JobConsent.from_json({**CONSENT.as_json(), **change})


@pytest.mark.parametrize(
    "row",
    [
        {"url": "https://a.example/x"},
        {"url": 1, "version": None},
        {"url": "https://a.example/x", "version": 3},
    ],
)
def test_a_read_that_does_not_fit_is_refused(row):
    with pytest.raises((KeyError, TypeError)):
        Read.from_json(row)


@pytest.mark.parametrize("body", [None, "consent", ["iri"], 3])
def test_a_consent_row_that_is_not_an_object_is_refused(body):
    with pytest.raises(TypeError):
        JobConsent.from_json(body)

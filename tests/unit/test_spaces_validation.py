"""What forms and the API may send for a space, and the words used when it is wrong."""

import pytest
from werkzeug.datastructures import MultiDict

from server.errors import ValidationFailed
from server.spaces.model import DEFAULT_CONSENT_PERIOD, DEFAULT_MIN_INDIVIDUALS
from server.spaces.validation import check_roles, check_space, check_webid
from server.web.forms import SpaceForm, describe_duration, read_space_form

GOOD = {
    "name": "Common customers",
    "description": "Which customers do we share?",
    "purposes": ["Marketing", "https://w3id.org/dpv#CustomerManagement"],
    "legal_basis": "Consent",
    "retention": "P90D",
    "data_requests": [{"kind": "path", "target": "customers.ttl", "description": "Your list"}],
}


def problems(**changes) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as refused:
        check_space(**{**GOOD, **changes})
    return refused.value.fields


def test_good_input_becomes_terms_with_full_dpv_iris():
    fields = check_space(**GOOD)
    assert fields.terms.purposes == (
        "https://w3id.org/dpv#CustomerManagement",
        "https://w3id.org/dpv#Marketing",
    )
    assert fields.terms.legal_basis == "https://w3id.org/dpv#Consent"
    assert fields.terms.data_requests[0].path == "customers.ttl"


def test_an_unknown_purpose_is_named_in_the_message():
    fields = problems(purposes=["Marketing", "WorldDomination"])
    assert fields == {
        "purposes": [
            "'WorldDomination' is not a purpose we know from the Data Privacy Vocabulary (DPV); "
            "pick one from the list."
        ]
    }


def test_every_problem_is_reported_at_once_next_to_its_field():
    fields = problems(name=" ", purposes=[], legal_basis="Whim", retention="forever")
    assert set(fields) == {"name", "purposes", "legal_basis", "retention"}
    assert fields["name"] == ["This is required."]
    assert "P90D" in fields["retention"][0]


@pytest.mark.parametrize(
    ("retention", "message"),
    [("P0D", "longer than zero"), ("P11Y", "ten years"), ("90 days", "ISO 8601"), ("PT5H", "ISO")],
)
def test_retention_must_be_a_sensible_iso_duration(retention, message):
    assert message in problems(retention=retention)["retention"][0]


def test_consent_lasts_a_year_and_runs_do_not_repeat_unless_said_otherwise():
    terms = check_space(**GOOD).terms
    assert (terms.consent_period, terms.recurring) == ("P1Y", False)
    terms = check_space(**GOOD, consent_period=" p6m ", recurring=True).terms
    assert (terms.consent_period, terms.recurring) == ("P6M", True)


@pytest.mark.parametrize(
    ("consent_period", "message"),
    [
        ("P0D", "The consent period must be longer than zero."),
        ("P11Y", "Keep the consent period to ten years or less."),
        ("a year", "Give the consent period as a number of days"),
        ("PT5H", "ISO 8601"),
        ("", "ISO 8601"),
    ],
)
def test_the_consent_period_is_checked_like_retention_under_its_own_name(consent_period, message):
    fields = problems(consent_period=consent_period)
    assert set(fields) == {"consent_period"}
    assert message in fields["consent_period"][0]


@pytest.mark.parametrize("recurring", ["true", "false", 1, 0, None, [True]])
def test_recurring_must_be_a_real_boolean(recurring):
    # bool("false") is True: anything but a real boolean would be a guess about intent.
    assert problems(recurring=recurring) == {
        "recurring": ["Say whether runs repeat with true or false: a JSON boolean, without quotes."]
    }


def test_the_smallest_group_is_five_unless_a_space_asks_for_more():
    assert check_space(**GOOD).terms.min_individuals == DEFAULT_MIN_INDIVIDUALS == 5
    assert check_space(**GOOD, min_individuals=5).terms.min_individuals == 5
    assert check_space(**GOOD, min_individuals=1_000_000).terms.min_individuals == 1_000_000


@pytest.mark.parametrize(
    ("min_individuals", "message"),
    [
        (4, "The smallest group must be 5 people or more"),
        (0, "The smallest group must be 5 people or more"),
        (-10, "The smallest group must be 5 people or more"),
        (1_000_001, "Keep the smallest group to 1,000,000 people or fewer."),
        (True, "Give the smallest group as a whole number of people, such as 5."),
        ("5", "as a whole number"),
        (5.0, "as a whole number"),
        (None, "as a whole number"),
        ("five", "as a whole number"),
    ],
)
def test_the_smallest_group_must_be_a_whole_number_of_five_or_more(min_individuals, message):
    fields = problems(min_individuals=min_individuals)
    assert set(fields) == {"min_individuals"}
    assert message in fields["min_individuals"][0]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/etc/passwd", "relative to the pod's root"),
        ("../other-pod/x", "'..'"),
        ("a//b", "empty segments"),
        ("contacts?x=1", "'?'"),
        ("https://evil.example/x", "relative"),
        ("has space.ttl", "spaces"),
    ],
)
def test_pod_paths_stay_inside_the_pod(target, message):
    fields = problems(data_requests=[{"kind": "path", "target": target, "description": "x"}])
    assert message in fields["data_requests-0-target"][0]


def test_a_class_request_needs_an_iri_and_every_request_a_plain_description():
    fields = problems(data_requests=[{"kind": "class", "target": "not an iri", "description": ""}])
    assert "full http(s) address" in fields["data_requests-0-target"][0]
    assert "plain words" in fields["data_requests-0-description"][0]


def test_control_characters_and_overlong_names_are_refused():
    assert "control characters" in problems(name="bad\x00name")["name"][0]
    assert "under 120" in problems(name="x" * 121)["name"][0]


def test_webids_and_roles():
    assert check_webid(" https://a.example/card#me ") == "https://a.example/card#me"
    with pytest.raises(ValidationFailed, match="full http"):
        check_webid('https://a.example/"><script>')
    with pytest.raises(ValidationFailed, match="is not a role here"):
        check_roles(["data-provider", "overlord"])
    with pytest.raises(ValidationFailed, match="at least one role"):
        check_roles([])


def test_the_form_skips_blank_rows_and_builds_the_duration():
    form = read_space_form(
        MultiDict(
            [
                ("name", "N"),
                ("retention_amount", "6"),
                ("retention_unit", "M"),
                ("request-0-target", ""),
                ("request-0-description", ""),
                ("request-1-target", "a.ttl"),
                ("request-1-description", "A"),
                ("purposes", "Marketing"),
            ]
        )
    )
    assert form.retention == "P6M"
    # Fields absent from the post read as empty (and are then refused), like retention's.
    assert (form.consent_period, form.recurring) == ("PY", False)
    assert form.min_individuals == ""
    assert form.requests == [{"kind": "", "target": "a.ttl", "description": "A"}]
    assert describe_duration("P6M") == "6 months"
    assert describe_duration("P1Y") == "1 year"


def test_the_form_reads_the_consent_period_and_the_recurring_checkbox():
    form = read_space_form(
        MultiDict(
            [
                ("consent_period_amount", " 3 "),
                ("consent_period_unit", "M"),
                ("recurring", "yes"),
            ]
        )
    )
    assert (form.consent_period, form.recurring) == ("P3M", True)
    odd_unit = read_space_form(
        MultiDict([("consent_period_amount", "2"), ("consent_period_unit", "H")])
    )
    assert odd_unit.consent_period == "P2Y"  # an unknown unit falls back to the default's


def test_a_new_form_starts_at_the_default_consent_period():
    assert SpaceForm().consent_period == DEFAULT_CONSENT_PERIOD
    assert SpaceForm().recurring is False


def test_the_form_turns_the_smallest_group_into_a_number_only_when_it_is_one():
    assert read_space_form(MultiDict([("min_individuals", " 12 ")])).min_individuals == 12
    # Anything else stays text, so the check can say what is wrong with what was typed.
    assert read_space_form(MultiDict([("min_individuals", "2.5")])).min_individuals == "2.5"
    assert read_space_form(MultiDict([("min_individuals", "-3")])).min_individuals == "-3"
    assert read_space_form(MultiDict([("min_individuals", "\u0665")])).min_individuals == "\u0665"
    assert SpaceForm().min_individuals == DEFAULT_MIN_INDIVIDUALS

"""The space form's field for accepted datacage releases: typed, checked, stored, shown.

Uses test_api's hermetic app (in-memory registry, sessions set directly): its fixtures are
imported by name, which ruff takes for redefinitions.
"""

# ruff: noqa: F811

from __future__ import annotations

import pytest

from tests.support.measurements import SNP, TDX
from tests.support.web_api import (  # noqa: F401 - fixtures used by name
    FORM,
    OWNER,
    SPACE,
    app,
    callers,
    clean_environment,
)


def test_the_form_sets_the_measurements_and_the_pages_show_them(callers):
    owner = callers[OWNER]
    new = owner.get("/spaces/new").get_data(as_text=True)
    assert 'id="accepted_measurements"' in new
    typed = f"  {SNP.upper().replace('SEV-SNP:', 'SEV-SNP: ')}\n\n{TDX}\n{TDX}\n"
    created = owner.post("/spaces", data={**FORM, "accepted_measurements": typed})
    assert created.status_code == 303, created.get_data(as_text=True)
    made = owner.get("/api/spaces").get_json()["spaces"][0]
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    shown = page[page.index('id="accepted-measurements"') :]
    assert f"AMD SEV-SNP <code>{SNP.split(':')[1]}</code>" in shown
    assert f"Intel TDX <code>{TDX.split(':')[1]}</code>" in shown
    # The invitation shows what the consent page shows: the same "what you agree to" terms.
    join = owner.get(f"/spaces/{made['id']}/join").get_data(as_text=True)
    terms = join[join.index('id="accepted-releases"') :]
    assert SNP.split(":")[1] in terms
    assert TDX.split(":")[1] in terms
    edit = owner.get(f"/spaces/{made['id']}/edit").get_data(as_text=True)
    assert f">{SNP}\n{TDX}</textarea>" in edit  # normalised, each once


def test_a_space_without_measurements_says_so(callers):
    owner = callers[OWNER]
    created = owner.post("/spaces", data=FORM)
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert "None named: the pod providers' own policies decide" in page


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("sgx:" + "a" * 96, "start with sev-snp: (AMD SEV-SNP) or tdx: (Intel TDX)"),
        ("a" * 96, "start with sev-snp:"),
        ("sev-snp:" + "a" * 64, "96 hex digits (48 bytes, SHA-384); this one has 64"),
        ("tdx:" + "g" * 96, "use only the digits 0-9 and a-f"),
        (f"{SNP}\ntdx:abc", "Line 2: a launch measurement is 96 hex digits"),
        ("\n".join([SNP] * 21), "at most 20 releases"),
    ],
)
def test_a_bad_measurement_is_shown_next_to_the_field_and_nothing_is_stored(callers, typed, words):
    owner = callers[OWNER]
    response = owner.post("/spaces", data={**FORM, "accepted_measurements": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert words in page[page.index('id="accepted_measurements-error"') :]
    assert 'href="#accepted_measurements"' in page
    assert "Traceback" not in page
    assert owner.get("/api/spaces").get_json()["spaces"] == []  # nothing half-written


def test_editing_keeps_or_changes_the_measurements(callers):
    owner = callers[OWNER]
    created = owner.post("/spaces", data={**FORM, "accepted_measurements": SNP})
    space_id = owner.get("/api/spaces").get_json()["spaces"][0]["id"]
    bad = owner.post(f"/spaces/{space_id}/edit", data={**FORM, "accepted_measurements": "tdx:1"})
    assert bad.status_code == 422
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert SNP.split(":")[1] in page  # the refused edit changed nothing
    saved = owner.post(f"/spaces/{space_id}/edit", data={**FORM, "accepted_measurements": TDX})
    assert saved.status_code == 303
    page = owner.get(created.headers["Location"]).get_data(as_text=True)
    assert TDX.split(":")[1] in page
    assert SNP.split(":")[1] not in page


def test_the_api_sets_shows_and_checks_the_measurements_as_the_form_does(callers):
    owner = callers[OWNER]
    body = {**SPACE, "roles": ["data-consumer"], "accepted_measurements": [SNP, TDX]}
    created = owner.post("/api/spaces", json=body)
    assert created.status_code == 201, created.get_json()
    made = created.get_json()
    assert made["accepted_measurements"] == [SNP, TDX]
    assert made["terms_digest"] is None or made["terms_digest"]
    bad = owner.put(f"/api/spaces/{made['id']}", json={**SPACE, "accepted_measurements": ["tdx:1"]})
    assert bad.status_code == 422
    assert "96 hex digits" in " ".join(bad.get_json()["errors"]["accepted_measurements"])
    kept = owner.get(f"/api/spaces/{made['id']}").get_json()
    assert kept["accepted_measurements"] == [SNP, TDX]  # the refused PUT changed nothing
    wrong_type = owner.put(
        f"/api/spaces/{made['id']}", json={**SPACE, "accepted_measurements": SNP}
    )
    assert wrong_type.status_code in (400, 422)

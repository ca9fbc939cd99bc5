"""A setting's environment variable says what it sets, once: `DATACAGE_WEBID` is the
datacage's WebID. The old doubled name `DATACAGE_DATACAGE_WEBID` is still read for one release,
with a deprecation warning in the log naming the new one."""

from __future__ import annotations

import logging

from server.config import from_environment, reference_markdown

CAGE = "https://cage.example/profile/card#me"


def test_the_datacage_webid_is_read_from_datacage_webid():
    assert from_environment({"DATACAGE_WEBID": CAGE})["DATACAGE_WEBID"] == CAGE


def test_the_old_doubled_name_still_works_for_one_release_and_says_so():
    # A handler on the module's own logger: the app's logging setup may stop propagation.
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("server.config")
    logger.addHandler(handler)
    try:
        values = from_environment({"DATACAGE_DATACAGE_WEBID": CAGE})
    finally:
        logger.removeHandler(handler)
    assert values["DATACAGE_WEBID"] == CAGE
    assert seen == [
        "DATACAGE_DATACAGE_WEBID is deprecated and will stop working in the next release: "
        "use DATACAGE_WEBID"
    ]


def test_the_new_name_wins_over_the_old_one():
    values = from_environment(
        {"DATACAGE_WEBID": CAGE, "DATACAGE_DATACAGE_WEBID": "https://old/#me"}
    )
    assert values["DATACAGE_WEBID"] == CAGE


def test_the_reference_names_the_variable_once():
    reference = reference_markdown()
    assert "`DATACAGE_WEBID`" in reference
    assert "DATACAGE_DATACAGE_WEBID" not in reference.split("Deprecated")[0]

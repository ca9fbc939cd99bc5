"""The demo writes people's records straight into the pod provider's storage: only into the
person's own pod folder, only files whose extension gives CSS their type."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.solid.css import PodAccount
from server.demo import seed
from server.demo.stack import Account, DemoStack


def _stack_and_person(tmp_path):
    (tmp_path / "person001").mkdir()
    stack = SimpleNamespace(css=SimpleNamespace(data_dir=tmp_path))
    pod = PodAccount(
        email="person001@demo.example",
        password=seed.PASSWORD,
        pod_url="https://localhost:3000/person001/",
        webid="https://localhost:3000/person001/profile/card#me",
        issuer="https://localhost:3000/",
    )
    return stack, Account(seed.person(1), pod)


def test_records_land_in_the_persons_own_pod_folder(tmp_path):
    stack, person = _stack_and_person(tmp_path)
    DemoStack.write_pod_files(stack, person, {seed.CUSTOMERS_PATH: b"<#me> a <#P> .\n"})
    assert (tmp_path / "person001" / "contacts" / "customers.ttl").read_bytes() == (
        b"<#me> a <#P> .\n"
    )


@pytest.mark.parametrize("path", ["../person002/contacts/x.ttl", "profile/card", "shop/x.acl"])
def test_nothing_else_is_written(tmp_path, path):
    stack, person = _stack_and_person(tmp_path)
    with pytest.raises(ValueError, match="seeds on disk"):
        DemoStack.write_pod_files(stack, person, {path: b"x"})
    assert not (tmp_path / "person002").exists()

"""The bundle store: content-addressed, read-only, and re-checked on every read."""

import dataclasses
import stat
from types import MappingProxyType

import pytest

from server.algorithms import (
    BundleError,
    BundleNotFound,
    BundleStore,
    InvalidDigest,
    build_bundle,
    bundle_digest,
    pack_files,
    read_bundle,
)
from tests.fixtures.bundles import COMMON_CUSTOMERS, common_customers, replaced, targz_of


@pytest.fixture
def store(tmp_path):
    return BundleStore(tmp_path / "bundles")


@pytest.fixture
def bundle():
    return read_bundle(targz_of(list(common_customers().items())))


def test_put_then_get_gives_the_same_bundle(store, bundle):
    path = store.put(bundle)
    assert path == store.root / f"sha256-{bundle.digest.removeprefix('sha256:')}.zip"
    assert store.exists(bundle.digest)
    again = store.get(bundle.digest)
    assert again == bundle
    assert again.manifest == bundle.manifest
    assert dict(again.files) == dict(bundle.files)


def test_the_store_keeps_the_canonical_zip_whatever_was_uploaded(store, bundle):
    assert store.put(bundle).read_bytes() == build_bundle(COMMON_CUSTOMERS)


def test_stored_files_are_read_only_and_the_folder_private(store, bundle):
    path = store.put(bundle)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert [p.name for p in store.root.iterdir()] == [path.name]  # no temporary file left


def test_an_existing_folder_is_made_private(tmp_path):
    (tmp_path / "open").mkdir(mode=0o777)
    store = BundleStore(tmp_path / "open")
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_put_is_idempotent(store, bundle):
    path = store.put(bundle)
    written = path.stat().st_mtime_ns, path.stat().st_ino
    assert store.put(bundle) == path
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written


def test_a_bundle_edited_on_disk_no_longer_matches_its_digest(store, bundle):
    path = store.put(bundle)
    edited = replaced(dict(bundle.files), "common_customers.py", "common = 0", "common = -1")
    path.chmod(0o644)
    path.write_bytes(pack_files(edited))
    with pytest.raises(BundleError) as caught:
        store.get(bundle.digest)
    [problem] = caught.value.problems
    assert problem == (
        f"The stored bundle {bundle.digest} no longer matches its digest: "
        f"its files now hash to {bundle_digest(edited)}."
    )


def test_a_damaged_stored_bundle_no_longer_matches_its_digest(store, bundle):
    path = store.put(bundle)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BundleError) as caught:
        store.get(bundle.digest)
    assert caught.value.problems[0] == (
        f"The stored bundle {bundle.digest} no longer matches its digest: "
        "it cannot be read any more."
    )


def test_put_rewrites_a_stored_copy_that_no_longer_verifies(store, bundle):
    path = store.put(bundle)
    path.chmod(0o644)
    path.write_bytes(b"garbage")
    assert store.put(bundle) == path
    assert store.get(bundle.digest) == bundle
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_put_refuses_a_bundle_whose_files_do_not_match_its_digest(store, bundle):
    forged = dataclasses.replace(
        bundle, files=MappingProxyType({**bundle.files, "extra.py": b"import os\n"})
    )
    with pytest.raises(BundleError, match="do not hash to its digest"):
        store.put(forged)
    assert not store.exists(bundle.digest)


def test_getting_an_unknown_digest_raises_not_found(store):
    with pytest.raises(BundleNotFound, match="is stored"):
        store.get("sha256:" + "0" * 64)
    assert not store.exists("sha256:" + "0" * 64)


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../../../etc/passwd",
        "sha256:" + "0" * 64 + "/../x",
        "sha256:" + "0" * 63 + "G",
        "sha256:" + "F" * 64,
        "sha256-" + "0" * 64,
        "",
    ],
)
def test_invalid_digests_are_refused_before_touching_the_disk(store, digest, monkeypatch):
    def no_disk(*args, **kwargs):
        raise AssertionError("the file system was touched")

    monkeypatch.setattr("os.open", no_disk)
    monkeypatch.setattr("pathlib.Path.is_file", no_disk)
    for method in (store.get, store.exists, store.path_of):
        with pytest.raises(InvalidDigest):
            method(digest)

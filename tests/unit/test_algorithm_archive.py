"""Algorithm bundle archives from outside: not archives, damaged, too big, or unsafe to unpack.

Every case must end in a BundleError whose sentence names the member and the rule it breaks.
"""

import gzip
import re
import stat
import tarfile
import zipfile

import pytest

from server.algorithms import BundleError, BundleLimits, pack_files, read_bundle
from server.algorithms.limits import MiB
from tests.fixtures.bundles import common_customers, tar_member, targz_of, zip_of


def problems_of(data: bytes, **limits: int) -> list[str]:
    with pytest.raises(BundleError) as caught:
        read_bundle(data, limits=BundleLimits(**limits))
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def only_problem(data: bytes, **limits: int) -> str:
    problems = problems_of(data, **limits)
    assert len(problems) == 1, problems
    return problems[0]


# --- Archives that are not archives ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The upload is empty"),
        (b"def run(ctx): pass\n", "not a zip or tar.gz archive"),
        (b"\x00" * 257 + b"ustar\x0000" + b"\x00" * 250, "uncompressed tar archive"),
        (gzip.compress(b"just text"), "holds no tar archive"),
    ],
)
def test_bytes_that_are_no_bundle_archive_are_named(data, message):
    assert message in only_problem(data)


def test_a_truncated_zip_is_reported_as_damaged():
    data = pack_files(common_customers())
    assert "zip archive is damaged or truncated" in only_problem(data[: len(data) // 2])


def test_a_truncated_tar_gz_is_reported_as_damaged():
    data = targz_of(list(common_customers().items()))
    assert "gzip stream is damaged or truncated" in only_problem(data[: len(data) // 2])


def test_a_corrupted_zip_member_is_reported_as_damaged():
    data = zip_of([("manifest.toml", b"x" * 1000)], compression=zipfile.ZIP_STORED)
    corrupted = data.replace(b"x" * 10, b"y" * 10, 1)
    assert "damaged or truncated at member 'manifest.toml'" in only_problem(corrupted)


# --- Size limits -------------------------------------------------------------------------------


def test_an_archive_over_the_compressed_limit_is_refused_before_reading():
    problem = only_problem(pack_files(common_customers()), max_archive_bytes=100)
    assert "the limit is 100 bytes compressed" in problem


def test_a_zip_bomb_stops_at_the_unpacked_limit():
    bomb = zip_of([(f"zeros{i}.bin", bytes(MiB)) for i in range(4)])
    assert len(bomb) < 20_000
    problem = only_problem(bomb, max_total_bytes=2 * MiB, max_file_bytes=2 * MiB)
    assert "unpacks to more than 2 MiB, the limit; reading stopped at 'zeros2.bin'" in problem


def test_a_tar_gz_bomb_stops_while_decompressing():
    bomb = targz_of([("zeros.bin", bytes(8 * MiB))])
    assert len(bomb) < 20_000
    assert "unpacks to more than 1 MiB" in only_problem(bomb, max_total_bytes=MiB)


def test_a_zip_member_longer_than_it_declares_is_refused():
    honest = zip_of([("zeros.bin", bytes(MiB))])
    declared = (MiB).to_bytes(4, "little")
    lying = honest.replace(declared, (10).to_bytes(4, "little"))  # local and central headers
    assert lying != honest
    # The small claim gets it past the early size check; reading it then exposes the lie.
    problem = only_problem(lying, max_file_bytes=1000)
    assert "damaged or truncated at member 'zeros.bin'" in problem


def test_a_file_over_the_per_file_limit_is_named():
    problem = only_problem(zip_of([("big.bin", bytes(5000))]), max_file_bytes=4096)
    assert problem == "'big.bin' is larger than 4096 bytes, the limit for one file."


def test_too_many_members_are_refused():
    members = [(f"f{i}.txt", b"") for i in range(5)]
    assert "more than 4 members" in only_problem(zip_of(members), max_members=4)


# --- Unsafe members ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.py", "climbs out of the bundle with '..'"),
        ("a/../../evil.py", "climbs out of the bundle with '..'"),
        ("/etc/cron.d/evil", "is an absolute path"),
        ("C:/evil.py", "is an absolute path"),
        ("a\\evil.py", "contains a backslash"),
        ("a\nb.py", "contains a control character"),
        ("a\x1b[2Jb.py", "contains a control character"),
        ("a//b.py", "has an empty or '.' folder name"),
    ],
)
def test_unsafe_member_names_are_refused(name, message):
    for archive in (zip_of([(name, b"x")]), targz_of([(name, b"x")])):
        problems = problems_of(archive)
        assert any(p.startswith(f"Archive member {name!r}") and message in p for p in problems)


def test_a_nul_in_a_zip_name_is_seen_even_though_zipfile_cuts_names_there():
    data = zip_of([("aXb.py", b"x")]).replace(b"aXb.py", b"a\x00b.py")
    assert "'a\\x00b.py' contains a control character" in only_problem(data)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (tar_member("link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "is a symbolic link"),
        (tar_member("hard", type=tarfile.LNKTYPE, linkname="manifest.toml"), "is a hard link"),
        (tar_member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "is a device file"),
        (tar_member("pipe", type=tarfile.FIFOTYPE), "is a named pipe"),
    ],
)
def test_links_devices_and_fifos_in_a_tar_are_refused(member, message):
    problem = only_problem(targz_of([("manifest.toml", b""), member]))
    assert problem.startswith(f"Archive member {member.name!r} {message}")


def test_a_symlink_in_a_zip_is_refused():
    data = zip_of([("link", b"/etc/passwd")], mode=stat.S_IFLNK | 0o777)
    assert only_problem(data).startswith("Archive member 'link' is a symbolic link")


def test_an_encrypted_zip_member_is_refused():
    data = zip_of([("secret.py", b"x")])
    # The general-purpose flags: 6 bytes into a local header, 8 into a central directory entry.
    flags_at = [m.start() + 6 for m in re.finditer(b"PK\x03\x04", data)]
    flags_at += [m.start() + 8 for m in re.finditer(b"PK\x01\x02", data)]
    patched = bytearray(data)
    for offset in flags_at:
        patched[offset] |= 0x1
    assert "'secret.py' is encrypted" in only_problem(bytes(patched))


def test_duplicate_paths_are_refused():
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_of([("run.py", b"a"), ("run.py", b"b")])
    assert only_problem(data) == "Archive member 'run.py' appears more than once."


@pytest.mark.parametrize(
    ("first", "second"), [("README.md", "readme.md"), ("caf\u00e9.py", "cafe\u0301.py")]
)
def test_paths_that_collide_after_case_folding_or_normalisation_are_refused(first, second):
    problem = only_problem(targz_of([(first, b"1"), (second, b"2")]))
    assert f"{first!r} and {second!r} differ only in letter case or Unicode form" in problem


def test_a_path_that_is_both_file_and_folder_is_refused():
    problem = only_problem(zip_of([("lib", b"x"), ("LIB/mod.py", b"y")]))
    assert problem == "'lib' is both a file and a folder in the archive."


def test_all_unsafe_members_are_reported_together():
    problems = problems_of(zip_of([("../a", b""), ("/b", b""), ("c\\d", b"")]))
    assert len(problems) == 3

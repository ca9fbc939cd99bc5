"""Algorithm bundles: reading a valid one, its digest, and reproducible builds.

Hostile archives are in test_algorithm_archive.py; the manifest, code and shape checks in
test_algorithm_checks.py; the store in test_algorithm_store.py.
"""

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.algorithms import (
    BundleError,
    InvalidDigest,
    build_bundle,
    bundle_digest,
    canonical_listing,
    check_digest,
    read_bundle,
)
from tests.fixtures.bundles import COMMON_CUSTOMERS, common_customers, targz_of, zip_of

DOC = Path(__file__).parents[2] / "docs" / "algorithm-bundles.md"


# --- A valid bundle and its digest ------------------------------------------------------------


def test_the_sample_bundle_is_read_with_its_manifest_and_shape():
    bundle = read_bundle(build_bundle(COMMON_CUSTOMERS))
    assert bundle.manifest.name == "common-customers"
    assert bundle.manifest.entry_module == "common_customers"
    assert bundle.manifest.entry_function == "run"
    assert bundle.manifest.events == ("CHECK_COMMON_DEMO_CUSTOMERS",)
    [parameter] = bundle.manifest.parameters
    assert (parameter.name, parameter.type, parameter.default) == ("min_overlap", "integer", 5)
    assert sorted(bundle.files) == ["common_customers.py", "manifest.toml", "shapes/report.ttl"]
    assert bundle.digest == bundle_digest(common_customers())
    assert len(bundle.output_shape) > 0
    assert bundle.output_shape is not bundle.output_shape  # a fresh graph: callers cannot alter it
    with pytest.raises(TypeError):
        bundle.files["extra.py"] = b""  # type: ignore[index]


def test_zip_and_tar_gz_of_the_same_tree_have_the_same_digest():
    files = common_customers()
    from_zip = read_bundle(zip_of(list(files.items())))
    from_tar = read_bundle(targz_of(list(files.items())))
    assert from_zip.digest == from_tar.digest == bundle_digest(files)


def test_member_order_timestamps_modes_and_compression_do_not_change_the_digest():
    members = list(common_customers().items())
    variants = [
        zip_of(members),
        zip_of(members[::-1], date_time=(2031, 12, 31, 23, 59, 58)),
        zip_of(members, mode=stat.S_IFREG | 0o755, compression=zipfile.ZIP_STORED),
        targz_of(members[::-1], mtime=1_234_567_890),
    ]
    assert len({read_bundle(variant).digest for variant in variants}) == 1


def test_one_changed_byte_changes_the_digest():
    files = common_customers()
    source = bytearray(files["common_customers.py"])
    source[-2] = ord("!") if source[-2] != ord("!") else ord("?")
    changed = {**files, "common_customers.py": bytes(source)}
    assert bundle_digest(changed) != bundle_digest(files)


def test_a_single_top_level_folder_and_leading_dot_slash_are_stripped():
    files = common_customers()
    folder = zip_of(
        [("common-customers/", b""), *((f"common-customers/{p}", c) for p, c in files.items())]
    )
    dotted = targz_of([(f"./{path}", content) for path, content in files.items()])
    assert read_bundle(folder).digest == read_bundle(dotted).digest == bundle_digest(files)


def test_the_listing_is_sorted_by_utf8_bytes():
    listing = canonical_listing({"b": b"", "a/z": b"", "B": b"", "é": b"", "a.txt": b""})
    paths = [line.rsplit(" ", 1)[1] for line in listing.decode().splitlines()[1:]]
    assert paths == ["B", "a.txt", "a/z", "b", "é"]


@pytest.mark.parametrize("path", ["cafe\u0301.py", "../x", "a\nb", "/abs", "a//b"])
def test_the_digest_refuses_paths_no_bundle_can_hold(path):
    with pytest.raises(ValueError, match="cannot be part of a bundle"):
        bundle_digest({path: b""})


# --- The documented construction --------------------------------------------------------------

DOC_EXAMPLE = {
    "README": b"hello\n",
    "algo.py": b"def run(ctx):\n    return 42\n",
    "shapes/out.ttl": b"@prefix sh: <http://www.w3.org/ns/shacl#> .\n",
}


def test_the_worked_example_in_the_docs_recomputes():
    doc = DOC.read_text(encoding="utf-8")
    assert canonical_listing(DOC_EXAMPLE).decode() in doc
    assert f"`{bundle_digest(DOC_EXAMPLE)}`" in doc


def documented(marker: str) -> str:
    block = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block, f"docs/algorithm-bundles.md marks a code block with <!-- {marker} -->"
    return block.group(1)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not shutil.which("sha256sum"),
    reason="the documented one-liner uses GNU find, stat and sha256sum",
)
def test_the_documented_shell_one_liner_gives_the_same_digest(tmp_path):
    tree = shutil.copytree(COMMON_CUSTOMERS, tmp_path / "bundle")
    command = ["bash", "-c", documented("digest-one-liner")]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == bundle_digest(common_customers())


def test_the_documented_python_snippet_gives_the_same_digest(tmp_path):
    tree = shutil.copytree(COMMON_CUSTOMERS, tmp_path / "bundle")
    script = tmp_path / "digest.py"
    script.write_text(documented("digest-python"))
    command = [sys.executable, str(script)]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == bundle_digest(common_customers())


@pytest.mark.parametrize(
    "value",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 64 + "\n",
        "sha512:" + "a" * 64,
        "a" * 64,
        "sha256:../../../etc/passwd",
        None,
        b"sha256:" + b"a" * 64,
    ],
)
def test_digest_strings_from_outside_are_checked(value):
    with pytest.raises(InvalidDigest, match="is not a bundle digest"):
        check_digest(value)


def test_a_well_formed_digest_passes():
    digest = bundle_digest(DOC_EXAMPLE)
    assert check_digest(digest) == digest


# --- Building from a source tree ----------------------------------------------------------------


def test_build_bundle_is_deterministic_and_ignores_timestamps(tmp_path):
    tree = shutil.copytree(COMMON_CUSTOMERS, tmp_path / "tree")
    first = build_bundle(tree)
    os.utime(tree / "manifest.toml", (0, 0))
    (tree / "common_customers.py").chmod(0o755)
    assert build_bundle(tree) == first == build_bundle(COMMON_CUSTOMERS)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(common_customers())
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {stat.S_IFREG | 0o644}


def test_build_bundle_skips_caches_and_hidden_files(tmp_path):
    tree = shutil.copytree(COMMON_CUSTOMERS, tmp_path / "tree")
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / "common_customers.cpython-311.pyc").write_bytes(b"\x00")
    (tree / "stale.pyc").write_bytes(b"\x00")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tree / ".env").write_text("SECRET=1\n")
    assert build_bundle(tree) == build_bundle(COMMON_CUSTOMERS)


def test_build_bundle_refuses_symlinks(tmp_path):
    tree = shutil.copytree(COMMON_CUSTOMERS, tmp_path / "tree")
    (tree / "passwd").symlink_to("/etc/passwd")
    (tree / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(BundleError) as caught:
        build_bundle(tree)
    assert len(caught.value.problems) == 2
    assert all("is a symbolic link" in problem for problem in caught.value.problems)


def test_build_bundle_needs_a_folder(tmp_path):
    with pytest.raises(BundleError, match="is not a folder"):
        build_bundle(tmp_path / "missing")

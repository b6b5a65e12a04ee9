import pytest

from manualqa.sources import FolderConnector, SourceError

MANIFEST = (
    "file,key,vendor,product,title,license,is_public\n"
    "a.pdf,acme__a__manual,Acme,A-1,A-1 manual,CC-BY-4.0,true\n"
    "b.md,,Acme,B-2,,CC-BY-4.0,false\n"
)


def test_a_manifest_supplies_metadata_and_defines_the_set(tmp_path):
    (tmp_path / "MANIFEST.csv").write_text(MANIFEST)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7 a")
    (tmp_path / "b.md").write_text("# B\n")
    (tmp_path / "README.md").write_text("# About this folder\n")
    (tmp_path / "notes.txt").write_text("not a manual")

    refs = FolderConnector(tmp_path).list_all()
    assert [r.key for r in refs] == ["acme__a__manual", "b"]
    a, b = refs
    assert (a.vendor, a.product, a.license, a.media_type) == (
        "Acme",
        "A-1",
        "CC-BY-4.0",
        "application/pdf",
    )
    assert (b.title, b.is_public, b.media_type) == ("B-2", False, "text/markdown")


def test_without_a_manifest_every_supported_file_is_a_manual(tmp_path):
    (tmp_path / "Quick Start.PDF").write_bytes(b"%PDF")
    (tmp_path / "guide.html").write_text("<h1>x</h1>")
    (tmp_path / "image.png").write_bytes(b"png")
    refs = FolderConnector(tmp_path, default_license="proprietary").list_all()
    assert [r.key for r in refs] == ["guide", "quick-start"]
    assert {r.license for r in refs} == {"proprietary"}


def test_read_returns_current_bytes_and_a_vanished_file_is_an_error(tmp_path):
    path = tmp_path / "m.md"
    path.write_text("# v1\n")
    connector = FolderConnector(tmp_path)
    ref, data = connector.read("m")
    assert data == b"# v1\n"
    path.write_text("# version two\n")
    assert connector.read("m")[1] == b"# version two\n"
    assert connector.read("m")[0].version_token != ref.version_token
    path.unlink()
    with pytest.raises(SourceError, match="no longer"):
        connector.read("m")


def test_two_files_with_one_key_and_a_missing_folder_are_refused(tmp_path):
    (tmp_path / "x.md").write_text("# x")
    (tmp_path / "x.html").write_text("<h1>x</h1>")
    with pytest.raises(SourceError, match="same manual key"):
        FolderConnector(tmp_path).list_all()
    with pytest.raises(SourceError, match="does not exist"):
        FolderConnector(tmp_path / "nope").list_all()

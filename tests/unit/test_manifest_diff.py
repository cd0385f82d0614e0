from cidx.indexer import diff_manifest
from cidx.source.discover import SourceFile
from cidx.store.metadata import FileRow


def test_new_changed_touched_deleted_and_unchanged():
    manifest = {
        "same.py": FileRow("same.py", 10, 100, "h1"),
        "grown.py": FileRow("grown.py", 10, 100, "h2"),
        "touched.py": FileRow("touched.py", 10, 100, "h3"),
        "gone.py": FileRow("gone.py", 10, 100, "h4"),
    }
    files = [SourceFile("same.py", 10, 100), SourceFile("grown.py", 11, 100), SourceFile("touched.py", 10, 200),
             SourceFile("new.py", 5, 1)]
    removed, todo, unchanged = diff_manifest(manifest, files)
    assert removed == ["gone.py"]
    assert [f.path for f in todo] == ["grown.py", "touched.py", "new.py"]
    assert unchanged == 1


def test_empty_manifest_reads_everything():
    files = [SourceFile("a.py", 1, 1)]
    assert diff_manifest({}, files) == ([], files, 0)

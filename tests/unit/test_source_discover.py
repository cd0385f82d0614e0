"""File discovery and reading on real temp trees (real git where the rule is about git)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cidx.source import discover as discover_mod
from cidx.source.discover import SourceFile, discover_files, read_source

EXCLUDES = (".git/", ".code-indexer/", "node_modules/", "*.min.js")
BIG = 1_048_576

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=T", "-c", "init.defaultBranch=main",
                    *args], cwd=root, check=True, capture_output=True)


def paths(root: Path, excludes=EXCLUDES, max_size=BIG) -> list[str]:
    return [f.path for f in discover_files(root, excludes, max_size)]


@pytest.fixture
def plain(tmp_path, monkeypatch):
    """A tree outside any git work tree (tmp_path could sit inside one on some machines)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "plain"
    root.mkdir()
    return root


@needs_git
def test_git_repo_tracked_plus_untracked_not_ignored(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, ".gitignore", "*.log.py\nbuild/\n")
    write(root, "src/app.py")
    write(root, "src/util.go", "package util\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    write(root, "src/new.py")  # untracked, not ignored: included
    write(root, "debug.log.py")  # ignored: excluded
    write(root, "build/gen.py")  # in an ignored directory
    write(root, "node_modules/lib/index.js")  # exclude_patterns
    write(root, "web/app.min.js")  # exclude_patterns
    write(root, "web/app.js")
    write(root, ".code-indexer/index/meta.json", "{}")  # our own state, never indexed
    write(root, "notes.unknownext")  # no language
    assert paths(root) == ["src/app.py", "src/new.py", "src/util.go", "web/app.js"]


@needs_git
def test_git_tracked_file_deleted_from_worktree_is_skipped(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "a.py")
    write(root, "b.py")
    git(root, "add", ".")
    (root / "b.py").unlink()  # still in the index, gone from disk
    assert paths(root) == ["a.py"]


@needs_git
def test_root_is_subdirectory_of_a_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, ".gitignore", "*.gen.py\n")
    write(repo, "top.py")
    write(repo, "pkg/mod.py")
    write(repo, "pkg/sub/deep.py")
    write(repo, "pkg/x.gen.py")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    write(repo, "pkg/untracked.py")
    assert paths(repo / "pkg") == ["mod.py", "sub/deep.py", "untracked.py"]


@needs_git
def test_root_ignored_by_an_enclosing_repo_is_walked(tmp_path):
    # e.g. a project inside ~/.pyenv/versions (pyenv's repo ignores /versions): git would list nothing
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    write(outer, ".gitignore", "/versions\n")
    root = outer / "versions" / "proj"
    write(root, ".gitignore", "junk.py\n")
    write(root, "a.py")
    write(root, "pkg/b.py")
    write(root, "junk.py")
    assert paths(root) == ["a.py", "pkg/b.py"]


@needs_git
def test_git_env_of_a_calling_hook_does_not_leak(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, ".git/info/exclude", "ign.py\n")  # honoured only if git looks at *this* repo
    write(root, "a.py")
    write(root, "ign.py")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # as inside a git hook of another repo
    assert paths(root) == ["a.py"]


def test_without_git_nested_gitignores_apply(plain):
    write(plain, ".gitignore", "*.tmp.py\nout/\n/rootonly.py\n")
    write(plain, "a.py")
    write(plain, "rootonly.py")
    write(plain, "x.tmp.py")
    write(plain, "out/o.py")
    write(plain, "pkg/.gitignore", "secret.py\n!keep.tmp.py\n")
    write(plain, "pkg/secret.py")
    write(plain, "pkg/rootonly.py")  # `/rootonly.py` is anchored to the root .gitignore's directory
    write(plain, "pkg/keep.tmp.py")  # re-included by the deeper file
    write(plain, "pkg/other.tmp.py")
    write(plain, "other/secret.py")  # pkg/.gitignore does not reach here
    write(plain, "node_modules/m.js")
    write(plain, ".git/config.py")  # a stray .git dir is never walked
    assert paths(plain) == ["a.py", "other/secret.py", "pkg/keep.tmp.py", "pkg/rootonly.py"]


def test_without_git_negation_cannot_reinclude_inside_ignored_dir(plain):
    write(plain, ".gitignore", "out/\n!out/keep.py\n")
    write(plain, "out/keep.py")
    write(plain, "a.py")
    assert paths(plain) == ["a.py"]  # as git: an ignored directory is never entered


def test_git_missing_falls_back_to_walking(tmp_path, monkeypatch):
    root = tmp_path / "r"
    write(root, ".gitignore", "ignored.py\n")
    write(root, "a.py")
    write(root, "ignored.py")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin-here"))
    assert paths(root) == ["a.py"]


def test_exclude_patterns_are_gitignore_style(plain):
    write(plain, "a.py")
    write(plain, "gen/b.py")
    write(plain, "src/gen/c.py")
    write(plain, "src/keep.py")
    write(plain, "src/d_test.py")
    assert paths(plain, ("gen/", "*_test.py")) == ["a.py", "src/keep.py"]
    assert paths(plain, ("/gen/",)) == ["a.py", "src/d_test.py", "src/gen/c.py", "src/keep.py"]
    assert paths(plain, ()) == ["a.py", "gen/b.py", "src/d_test.py", "src/gen/c.py", "src/keep.py"]


def test_own_dirs_always_skipped_even_without_excludes(plain):
    write(plain, ".code-indexer/x.py")
    write(plain, "sub/.code-indexer/y.py")
    write(plain, ".git/hooks/z.py")
    write(plain, "a.py")
    assert paths(plain, ()) == ["a.py"]


def test_max_file_size(plain):
    write(plain, "small.py", "x" * 100)
    write(plain, "exact.py", "x" * 200)
    write(plain, "big.py", "x" * 201)
    assert paths(plain, (), 200) == ["exact.py", "small.py"]


def test_binary_extensions_skipped_and_nul_content_unreadable(plain):
    write(plain, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(plain, "pkg.whl", b"PK\x03\x04")
    write(plain, "blob.py", b"x = 1\n\x00\x01\x02")  # source extension, binary content
    write(plain, "late.py", b"a" * 9000 + b"\x00")  # NUL after the first 8 KiB: treated as text
    assert paths(plain, ()) == ["blob.py", "late.py"]
    assert read_source(plain, "blob.py") is None
    assert read_source(plain, "late.py") is not None


def test_source_file_carries_size_and_mtime(plain):
    p = write(plain, "a.py", "abc\n")
    os.utime(p, ns=(1_000_000_000, 1_234_567_890_123_456_789))
    assert discover_files(plain, (), BIG) == [SourceFile("a.py", 4, 1_234_567_890_123_456_789)]


@pytest.mark.timeout(30)
def test_symlink_loop_does_not_hang_or_duplicate(plain):
    write(plain, "pkg/a.py")
    (plain / "pkg" / "loop").symlink_to("..", target_is_directory=True)
    (plain / "pkg" / "loop.py").symlink_to("..", target_is_directory=True)  # a source name, still a dir
    (plain / "self.py").symlink_to(plain / "self.py")  # ELOOP
    assert paths(plain) == ["pkg/a.py"]


def test_symlinks_inside_outside_broken(plain, tmp_path):
    write(plain, "real.py")
    outside = write(tmp_path, "outside.py")
    (plain / "inside_link.py").symlink_to("real.py")
    (plain / "outside_link.py").symlink_to(outside)
    (plain / "broken.py").symlink_to("missing.py")
    (plain / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    assert paths(plain) == ["inside_link.py", "real.py"]


@needs_git
def test_symlinks_in_git_mode(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "real.py")
    outside = write(tmp_path, "outside.py")
    (root / "out.py").symlink_to(outside)
    (root / "broken.py").symlink_to("nope.py")
    (root / "up.py").symlink_to("..", target_is_directory=True)
    git(root, "add", ".")
    assert paths(root) == ["real.py"]


@pytest.mark.timeout(30)
def test_non_regular_files_skipped(plain):
    write(plain, "a.py")
    os.mkfifo(plain / "pipe.py")  # reading it would block forever
    assert paths(plain) == ["a.py"]
    assert read_source(plain, "pipe.py") is None


def test_file_vanishing_between_listing_and_stat(plain, monkeypatch):
    write(plain, "a.py")
    write(plain, "gone.py")
    real_lstat = os.lstat

    def racing_lstat(path, *args, **kwargs):
        if str(path).endswith("gone.py"):
            os.unlink(path)
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(discover_mod.os, "lstat", racing_lstat)
    assert paths(plain) == ["a.py"]


def test_deterministic_sorted_output(plain):
    for name in ("b.py", "a/z.py", "A.py", "a.py", "a/b/c.py", "a-b.py"):
        write(plain, name)
    result = paths(plain)
    assert result == sorted(result)
    assert result == paths(plain)


def test_non_utf8_file_names_are_skipped(plain):
    write(plain, "ok.py")
    (plain / os.fsdecode(b"bad\xff.py")).write_text("x = 1\n")
    assert paths(plain) == ["ok.py"]


# --- read_source ---------------------------------------------------------------------------------

def test_read_non_utf8_with_replacement(plain):
    write(plain, "latin.py", "caf\xe9 = 1\n".encode("latin-1"))
    assert read_source(plain, "latin.py") == "caf\ufffd = 1\n"


def test_read_strips_bom_and_normalises_crlf(plain):
    write(plain, "w.py", b"\xef\xbb\xbfa = 1\r\nb = 2\r\nc\rd\n")
    assert read_source(plain, "w.py") == "a = 1\nb = 2\nc\rd\n"  # a lone CR is not a line break


def test_read_utf16_with_bom(plain):
    write(plain, "u.ps1", "\ufeffWrite-Host 'hi'\r\n".encode("utf-16-le"))
    assert read_source(plain, "u.ps1") == "Write-Host 'hi'\n"


def test_read_vanished_or_unreadable_returns_none(plain):
    assert read_source(plain, "missing.py") is None
    write(plain, "d/x.py")
    assert read_source(plain, "d") is None  # a directory
    p = write(plain, "locked.py")
    p.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything
            assert read_source(plain, "locked.py") is None
    finally:
        p.chmod(0o644)


def test_read_refuses_paths_escaping_root(plain, tmp_path):
    write(tmp_path, "secret.py", "s = 1\n")
    (plain / "link.py").symlink_to(tmp_path / "secret.py")
    assert read_source(plain, "../secret.py") is None
    assert read_source(plain, "link.py") is None


def test_bad_gitignore_line_is_skipped_not_fatal(plain):
    write(plain, ".gitignore", "a\\\n!\nskip.py\n")  # `a\` and `!` are invalid patterns
    write(plain, "skip.py")
    write(plain, "keep.py")
    assert paths(plain) == ["keep.py"]


def test_invalid_exclude_pattern_is_a_config_error(plain):
    from cidx.fastpath.errors import ConfigError

    write(plain, "a.py")
    with pytest.raises(ConfigError, match="exclude_patterns"):
        discover_files(plain, ("ok/", "bad\\"), BIG)


@pytest.mark.parametrize("use_git", [False, True])
def test_negation_cannot_reinclude_inside_excluded_dir(tmp_path, monkeypatch, use_git):
    # git's rule, in both modes: once a directory is excluded its contents are not looked at
    if use_git and shutil.which("git") is None:
        pytest.skip("git not installed")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "r"
    root.mkdir()
    if use_git:
        git(root, "init", "-q")
    write(root, "gen/keep.py")
    write(root, "gen/drop.py")
    write(root, "src/x.min.js")
    write(root, "src/keep.min.js")
    assert paths(root, ("gen/", "!gen/keep.py", "*.min.js", "!keep.min.js")) == ["src/keep.min.js"]


@needs_git
def test_git_mode_skips_non_utf8_names(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "ok.py")
    (root / os.fsdecode(b"bad\xff.py")).write_text("x = 1\n")
    assert paths(root) == ["ok.py"]

"""Which files of a repository get indexed, and how their text is read.

Inside a git work tree git decides (tracked + untracked-not-ignored, exactly what `git status` shows),
because re-implementing its ignore rules (global excludes, info/exclude, negations) is a bug farm.
Outside git we walk the tree and apply .gitignore files ourselves with pathspec. Either way the
config's exclude_patterns then apply with gitignore semantics, and our own rules (no .git/,
no .code-indexer/, nothing outside the root, no directory symlinks, size cap, known languages),
then the skip rules of skip_rules.py. `scan_files` also says why each listed file was skipped.

Everything here tolerates a tree that changes underneath it: a file that vanishes, turns into a
directory or FIFO, or loses its permissions is skipped, never an exception.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from cidx.fastpath.errors import ConfigError
from cidx.source.languages import language_for
from cidx.source.skip_rules import NO_RULES, SkipRules

ALWAYS_SKIP = frozenset({".git", ".code-indexer"})  # whatever exclude_patterns says

# Cheap name-level filter before any stat; content sniffing (NUL bytes) happens in read_source.
BINARY_EXTENSIONS = frozenset("""
    .png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .heic .avif
    .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar .jar .war .ear .whl .egg .apk .deb .rpm .dmg .iso
    .so .dll .dylib .a .lib .o .obj .exe .bin .elf .class .pyc .pyo .pyd .wasm .node
    .pdf .doc .docx .xls .xlsx .ppt .pptx .odt .epub
    .mp3 .mp4 .m4a .wav .flac .ogg .avi .mov .mkv .webm
    .ttf .otf .woff .woff2 .eot
    .db .sqlite .sqlite3 .pkl .pickle .npy .npz .parquet .h5 .onnx .pt .safetensors
""".split())

SNIFF_BYTES = 8192  # NUL within the first 8 KiB = binary (the same heuristic as git and grep)
_GIT_TIMEOUT_S = 120
# Variables a git hook or wrapper may export; they would point git at another repository.
_GIT_LOCATION_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                     "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX")


@dataclass(frozen=True)
class SourceFile:
    path: str  # POSIX path relative to the repo root
    size: int
    mtime_ns: int


@dataclass
class Scan:
    files: list[SourceFile]  # to index, sorted by path
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), sorted by path

    def skip_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(reason for _, reason in self.skipped).items()))


def discover_files(root: Path, exclude_patterns: Sequence[str], max_file_size: int,
                   rules: SkipRules = NO_RULES) -> list[SourceFile]:
    """The indexable files under root, sorted by path. Raises ConfigError for an invalid pattern."""
    return scan_files(root, exclude_patterns, max_file_size, rules).files


def scan_files(root: Path, exclude_patterns: Sequence[str], max_file_size: int,
               rules: SkipRules = NO_RULES, judged: Callable[[SourceFile], bool] | None = None) -> Scan:
    """discover_files, plus every listed file that was not taken and why: `excluded`
    (exclude_patterns), `binary`, `no_language`, `too_large` (max_file_size) or a skip rule's name.
    Files git ignores are never listed (so never counted); outside git, excluded directories are
    pruned without being counted file by file. `judged(file)` True means its head was read by an
    earlier run and it has not changed since (same size and mtime in the manifest): the head is
    not read again, which keeps a no-change `cidx index` from opening every file."""
    root_str = os.path.abspath(root)
    excluder = _Excluder(exclude_patterns)
    included = _compile(rules.include, strict=True, key="index.include") if rules.include else None
    listed = _git_listing(root_str)
    candidates = listed if listed is not None else _walk(root_str, excluder)
    checker = _Containment(root_str)
    found: dict[str, SourceFile] = {}  # keyed by path: git lists a conflicted file once per stage
    skipped: dict[str, str] = {}
    for rel in candidates:
        if rel in found or rel in skipped or any(part in ALWAYS_SKIP for part in rel.split("/")):
            continue
        ruled = rules if included is None or not included.match_file(rel) else NO_RULES
        reason = _name_reason(rel, excluder, ruled)
        source = None
        if reason is None:
            source, reason = _stat_source(root_str, rel, max_file_size, checker, ruled)
        if source is not None and (judged is None or not judged(source)):
            reason = ruled.by_head(os.path.join(root_str, rel))
        if reason is not None:
            skipped[rel] = reason
        elif source is not None:
            found[rel] = source
    return Scan([found[p] for p in sorted(found)], sorted(skipped.items()))


def scan_repository(config, judged: Callable[[SourceFile], bool] | None = None) -> Scan:
    """What `cidx index` indexes for this Config, and what it skips and why (`--dry-run` too)."""
    return scan_files(config.root, config.exclude_patterns, config.max_file_size,
                      SkipRules.from_config(config.index), judged)


def _name_reason(rel: str, excluder: "_Excluder", rules: SkipRules) -> str | None:
    """Why a path is not wanted, judged by its name alone (no system call). The gitignore-pattern
    match is the dearest check (~10 us a file), so it comes last: a binary or unknown file in an
    excluded directory counts as `binary` / `no_language`."""
    name = rel.rpartition("/")[2].lower()
    dot = name.rfind(".")
    if dot > 0 and name[dot:] in BINARY_EXTENSIONS:
        return "binary"
    reason = rules.by_name(rel)
    if reason is None and language_for(name) is None:
        reason = "no_language"
    if reason is None and excluder.excluded(rel):
        reason = "excluded"
    return reason


def read_source(root: Path, rel_path: str) -> str | None:
    """The file's text (BOM stripped, CRLF -> LF), or None if binary, unreadable, gone or outside root."""
    full = os.path.join(os.path.abspath(root), rel_path)
    if not _Containment(os.path.abspath(root)).inside(os.path.realpath(full)):
        return None  # `../x` or a symlink that now points elsewhere: never read outside the repository
    try:
        # O_NONBLOCK: if the path became a FIFO since discovery, open() must not wait for a writer.
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            data = handle.read()
    except OSError:
        return None
    return decode_source(data)


def decode_source(data: bytes) -> str | None:
    """Bytes to text the way read_source does; None for binary content."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 with BOM (PowerShell, some Windows tools): full of NULs yet text.
        text = data.decode("utf-16", errors="replace")
        if "\x00" in text[:SNIFF_BYTES]:
            return None  # UTF-32, or binary that happens to start with FF FE
    elif b"\x00" in data[:SNIFF_BYTES]:
        return None
    else:
        text = data.decode("utf-8", errors="replace")
    # CRLF -> LF so chunk text, snippets and hashes do not depend on the checkout's line endings.
    # A lone CR stays: it is not a line break for git, grep or our line numbers.
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


# --- helpers ---------------------------------------------------------------------------------------

def _compile(lines: Iterable[str], *, strict: bool, key: str = "exclude_patterns") -> GitIgnoreSpec:
    """A gitignore spec. A bad line in a .gitignore is skipped (as git does); a bad configured
    exclude pattern is the user's to fix, so it is reported."""
    lines = list(lines)
    try:
        return GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec's error type has moved between versions; narrow it down per line
        good = []
        for line in lines:
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception:
                if strict:
                    raise ConfigError(f"{key}: invalid pattern {line!r}; fix it in "
                                      ".code-indexer/config.json") from None
                continue
            good.append(line)
        return GitIgnoreSpec.from_lines(good)


class _Excluder:
    """exclude_patterns with git semantics: a file inside an excluded directory stays excluded even
    if a later `!pattern` names it. Directory answers are cached (one regex pass per directory)."""

    def __init__(self, patterns: Sequence[str]):
        self._spec = _compile(patterns, strict=True) if patterns else None
        self._dirs: dict[str, bool] = {}

    def dir_excluded(self, rel_dir: str) -> bool:
        if self._spec is None:
            return False
        hit = self._dirs.get(rel_dir)
        if hit is None:
            parent, _, _ = rel_dir.rpartition("/")
            hit = (bool(parent) and self.dir_excluded(parent)) or self._spec.match_file(rel_dir + "/")
            self._dirs[rel_dir] = hit
        return hit

    def excluded(self, rel: str) -> bool:
        if self._spec is None:
            return False
        parent, _, _ = rel.rpartition("/")
        return (bool(parent) and self.dir_excluded(parent)) or self._spec.match_file(rel)


class _Containment:
    """Is a real path inside the (real) root? Parent directories are resolved once each, so a
    tracked file reached through a directory that became a symlink cannot escape the root."""

    def __init__(self, root: str):
        self.root = root
        self._real_root = os.path.realpath(root)
        self._prefix = os.path.join(self._real_root, "")
        self._dirs: dict[str, bool] = {}

    def inside(self, real_path: str) -> bool:
        return real_path == self._real_root or real_path.startswith(self._prefix)

    def parent_inside(self, rel: str) -> bool:
        parent = rel.rpartition("/")[0]
        hit = self._dirs.get(parent)
        if hit is None:
            hit = self.inside(os.path.realpath(os.path.join(self.root, parent)))
            self._dirs[parent] = hit
        return hit


def _stat_source(root: str, rel: str, max_file_size: int, checker: _Containment,
                 rules: SkipRules) -> tuple[SourceFile | None, str | None]:
    """(the file, None), or (None, why it is skipped), or (None, None) for what is not a file of
    this repository at all (directories, FIFOs, links out, vanished files): not worth a count."""
    full = os.path.join(root, rel)
    try:
        st = os.lstat(full)  # never follows: a symlink is judged by where it points, below
        if stat.S_ISLNK(st.st_mode):
            if not checker.inside(os.path.realpath(full)):
                return None, None  # points outside the repository (or is broken and resolves nowhere inside)
            st = os.stat(full)  # raises for broken links and loops (ELOOP)
        if not stat.S_ISREG(st.st_mode):
            return None, None  # directories (incl. directory symlinks), FIFOs, sockets, devices
        if "/" in rel and not checker.parent_inside(rel):
            return None, None
    except OSError:  # vanished since listing (race), permission denied, ELOOP, ENOTDIR...
        return None, None
    reason = rules.by_size(rel, st.st_size)
    if reason is None and st.st_size > max_file_size:
        reason = "too_large"
    return (None, reason) if reason else (SourceFile(rel, st.st_size, st.st_mtime_ns), None)


def _git(root: str, *args: str) -> subprocess.CompletedProcess | None:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # do not take index.lock to refresh stat info: the user's git may be busy
    try:
        return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True,
                              timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _git_listing(root: str) -> list[str] | None:
    """Paths under root (relative to it) that git tracks or would track; None when git should not
    decide: not in a work tree, git unusable (missing, repository of another owner, timeout), or
    root itself ignored by an enclosing repository (e.g. a project under ~/.pyenv/versions or in a
    dotfiles-managed home: the user asked for this directory, so it is walked instead)."""
    probe = _git(root, "check-ignore", "-q", ".")  # 0 = ignored, 1 = not ignored, 128 = no work tree
    if probe is None or probe.returncode != 1:
        return None
    proc = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if proc is None or proc.returncode != 0:
        return None
    paths = []
    for raw in proc.stdout.split(b"\0"):
        if not raw or raw.endswith(b"/"):
            continue  # "dir/" = an untracked nested repository; git does not look inside, nor do we
        try:
            paths.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # a non-UTF-8 name could not be stored, printed or sent over the wire
    return paths


def _read_gitignore(path: str) -> GitIgnoreSpec | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    return _compile(lines, strict=False)


def _walk(root: str, excluder: _Excluder) -> list[str]:
    """Every candidate file outside git: .gitignore files at every level, excluded directories
    pruned (never descended), directory symlinks never followed (so no loops)."""
    out: list[str] = []
    # (directory relative to root, [(directory of a .gitignore, its spec), ...] from root down)
    stack: list[tuple[str, list[tuple[str, GitIgnoreSpec]]]] = [("", [])]
    while stack:
        rel_dir, specs = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # unreadable or vanished directory
        if any(e.name == ".gitignore" for e in entries):
            spec = _read_gitignore(os.path.join(root, rel_dir, ".gitignore"))
            if spec is not None:
                specs = [*specs, (rel_dir, spec)]
        for entry in entries:
            name = entry.name
            if name in ALWAYS_SKIP or not _utf8(name):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if not excluder.dir_excluded(rel) and not _gitignored(specs, rel + "/"):
                    stack.append((rel, specs))
            elif not _gitignored(specs, rel):
                out.append(rel)  # judged (and counted) by scan_files
    return out


def _gitignored(specs: list[tuple[str, GitIgnoreSpec]], rel: str) -> bool:
    """Git's precedence: deeper .gitignore files override shallower ones; the last match decides."""
    ignored = False
    for base, spec in specs:
        result = spec.check_file(rel[len(base) + 1:] if base else rel).include
        if result is not None:
            ignored = result
    return ignored


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode smuggled undecodable bytes in as surrogates
        return False
    return True

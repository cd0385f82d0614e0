"""Language detection: the table the indexer and `--language` filters rely on."""

from pathlib import PurePosixPath

import pytest

from cidx.source.languages import LANGUAGES, is_known_language, language_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.py", "python"),
        ("stubs/os.pyi", "python"),
        ("web/app.js", "javascript"),
        ("web/app.mjs", "javascript"),
        ("web/App.jsx", "javascript"),
        ("web/app.ts", "typescript"),
        ("web/types.d.ts", "typescript"),
        ("web/App.tsx", "tsx"),
        ("main.go", "go"),
        ("lib.rs", "rust"),
        ("Main.java", "java"),
        ("x.c", "c"),
        ("x.h", "c"),
        ("x.cpp", "cpp"),
        ("x.cc", "cpp"),
        ("x.hpp", "cpp"),
        ("Prog.cs", "csharp"),
        ("app.rb", "ruby"),
        ("index.php", "php"),
        ("run.sh", "shell"),
        ("run.bash", "shell"),
        ("Main.kt", "kotlin"),
        ("App.swift", "swift"),
        ("App.scala", "scala"),
        ("init.lua", "lua"),
        ("schema.sql", "sql"),
        ("index.html", "html"),
        ("style.css", "css"),
        ("style.scss", "scss"),
        ("README.md", "markdown"),
        ("ci.yml", "yaml"),
        ("ci.yaml", "yaml"),
        ("package.json", "json"),
        ("pyproject.toml", "toml"),
        ("pom.xml", "xml"),
        ("notes.txt", "text"),
        ("docs/index.rst", "text"),
        # by file name, not extension
        ("Dockerfile", "dockerfile"),
        ("deploy/Dockerfile", "dockerfile"),
        ("Dockerfile.prod", "dockerfile"),
        ("app.dockerfile", "dockerfile"),
        ("Makefile", "makefile"),
        ("src/GNUmakefile", "makefile"),
        ("rules.mk", "makefile"),
        ("CMakeLists.txt", "cmake"),  # a name rule beats the .txt extension
        ("Gemfile", "ruby"),
        ("LICENSE", "text"),
        # case-insensitive extensions
        ("LEGACY.PY", "python"),
        ("Photo.Md", "markdown"),
        # unknown, binary or extension-less files are not indexed
        ("image.png", None),
        ("archive.tar.gz", None),
        ("lib.so", None),
        ("mod.pyc", None),
        ("noext", None),
        (".gitignore", None),
        ("weird.xyz123", None),
    ],
)
def test_language_for(path, expected):
    assert language_for(path) == expected


def test_language_for_accepts_purepath():
    assert language_for(PurePosixPath("src/pkg/mod.py")) == "python"


def test_table_covers_common_languages():
    for name in ("python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "csharp", "ruby",
                 "php", "shell", "kotlin", "swift", "scala", "lua", "sql", "html", "css", "markdown", "yaml",
                 "json", "toml", "xml", "dockerfile", "makefile", "text"):
        assert is_known_language(name), name
    assert len(LANGUAGES) >= 30


def test_is_known_language_rejects_unknown():
    assert not is_known_language("klingon")
    assert not is_known_language("")
    assert not is_known_language("Python")  # names are lower-case identifiers, as stored in the index


def test_extensions_are_unambiguous_and_well_formed():
    seen: dict[str, str] = {}
    for lang, exts in LANGUAGES.items():
        assert lang == lang.lower()
        assert isinstance(exts, tuple)
        for ext in exts:
            assert ext.startswith(".") and ext == ext.lower(), (lang, ext)
            assert ext not in seen, f"{ext} claimed by {seen.get(ext)} and {lang}"
            seen[ext] = lang
            assert language_for("f" + ext) == lang

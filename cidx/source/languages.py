"""Which files are source, and in which language (the `language` column of the index, `--language`).

One extension belongs to one language (a test enforces it) so a file's language never depends on
dict order. Names are lower-case identifiers because they are stored and matched as-is.
Stdlib-only and import-cheap: the CLI may list languages without loading the indexer.
"""

from __future__ import annotations

from pathlib import PurePath

LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi", ".pyw"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".mts", ".cts"),
    "tsx": (".tsx",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "c": (".c", ".h"),  # .h is ambiguous; C is the safe reading (C++ headers mostly use .hpp/.hh)
    "cpp": (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp"),
    "csharp": (".cs", ".csx"),
    "objective-c": (".m", ".mm"),
    "ruby": (".rb", ".rake", ".gemspec", ".erb"),
    "php": (".php", ".phtml"),
    "shell": (".sh", ".bash", ".zsh", ".ksh", ".fish"),
    "powershell": (".ps1", ".psm1", ".psd1"),
    "batch": (".bat", ".cmd"),
    "kotlin": (".kt", ".kts"),
    "swift": (".swift",),
    "scala": (".scala", ".sc", ".sbt"),
    "groovy": (".groovy", ".gradle"),
    "dart": (".dart",),
    "lua": (".lua",),
    "perl": (".pl", ".pm", ".t"),
    "r": (".r",),
    "julia": (".jl",),
    "haskell": (".hs", ".lhs"),
    "ocaml": (".ml", ".mli"),
    "fsharp": (".fs", ".fsi", ".fsx"),
    "elixir": (".ex", ".exs"),
    "erlang": (".erl", ".hrl"),
    "clojure": (".clj", ".cljs", ".cljc", ".edn"),
    "zig": (".zig",),
    "nim": (".nim",),
    "vue": (".vue",),
    "svelte": (".svelte",),
    "sql": (".sql",),
    "graphql": (".graphql", ".gql"),
    "proto": (".proto",),
    "terraform": (".tf", ".tfvars", ".hcl"),
    "html": (".html", ".htm", ".xhtml"),
    "css": (".css",),
    "scss": (".scss", ".sass", ".less"),
    "markdown": (".md", ".markdown", ".mdx"),
    "yaml": (".yaml", ".yml"),
    "json": (".json", ".jsonc", ".json5"),  # not .ipynb: base64 outputs would drown the code
    "toml": (".toml",),
    "ini": (".ini", ".cfg", ".conf", ".properties"),
    "xml": (".xml", ".xsd", ".xsl", ".xslt", ".plist", ".csproj"),  # not .svg: path data, not prose
    "dockerfile": (".dockerfile",),
    "makefile": (".mk", ".mak"),
    "cmake": (".cmake",),
    "text": (".txt", ".rst", ".adoc", ".org", ".tex"),
}

# Files known by name rather than extension. Checked before the extension so that, e.g.,
# CMakeLists.txt is cmake and not text.
FILENAMES: dict[str, str] = {
    "dockerfile": "dockerfile",
    "containerfile": "dockerfile",
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "cmakelists.txt": "cmake",
    "rakefile": "ruby",
    "gemfile": "ruby",
    "podfile": "ruby",
    "vagrantfile": "ruby",
    "jenkinsfile": "groovy",
    "justfile": "makefile",
    "readme": "text",
    "license": "text",
    "copying": "text",
    "changelog": "text",
    "authors": "text",
}

_BY_EXTENSION: dict[str, str] = {ext: lang for lang, exts in LANGUAGES.items() for ext in exts}


def language_for(path: str | PurePath) -> str | None:
    """The language of a file by its name, or None when it is not a source/text file we index."""
    name = PurePath(path).name.lower()
    by_name = FILENAMES.get(name)
    if by_name is not None:
        return by_name
    if name.startswith(("dockerfile.", "containerfile.")):  # Dockerfile.prod, Dockerfile.dev
        return "dockerfile"
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dotfile such as .gitignore / .env (often secrets): not indexed
        return None
    return _BY_EXTENSION.get(name[dot:])


def is_known_language(name: str) -> bool:
    return name in LANGUAGES

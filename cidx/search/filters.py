"""Which chunks a query may return: --language/--exclude-language and --path-filter/--exclude-path."""

from __future__ import annotations

from fnmatch import fnmatchcase

from cidx.fastpath.errors import UsageError
from cidx.fastpath.params import QueryParams
from cidx.source.languages import LANGUAGES, is_known_language


def _path_matches(path: str, pattern: str) -> bool:
    """A glob over the whole relative path (`*` crosses `/`), or a plain directory prefix."""
    pattern = pattern.lstrip("./") if pattern.startswith("./") else pattern
    if fnmatchcase(path, pattern):
        return True
    prefix = pattern.rstrip("/")
    return not any(c in prefix for c in "*?[") and (path == prefix or path.startswith(prefix + "/"))


class ChunkFilter:
    def __init__(self, params: QueryParams):
        for name in (*params.languages, *params.exclude_languages):
            if not is_known_language(name.lower()):
                known = ", ".join(sorted(LANGUAGES))
                raise UsageError(f"unknown language {name!r}; known: {known}")
        self.languages = {n.lower() for n in params.languages}
        self.exclude_languages = {n.lower() for n in params.exclude_languages}
        self.path_filters = params.path_filters
        self.exclude_paths = params.exclude_paths

    @property
    def active(self) -> bool:
        return bool(self.languages or self.exclude_languages or self.path_filters or self.exclude_paths)

    def accepts(self, path: str, language: str) -> bool:
        if self.languages and language not in self.languages:
            return False
        if language in self.exclude_languages:
            return False
        if self.path_filters and not any(_path_matches(path, p) for p in self.path_filters):
            return False
        return not any(_path_matches(path, p) for p in self.exclude_paths)

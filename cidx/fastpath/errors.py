"""User-facing errors.

Every error a user can cause (bad config, bad query, missing index, unreachable provider) is a
CidxError: the CLI prints its message on one line and exits with its exit_code, never a traceback.
Stdlib-only: the fast client path imports this.
"""


class CidxError(Exception):
    """An error whose message is fit to show the user as-is (one line, names the fix)."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(CidxError):
    """Invalid arguments or query options (exit 2, like click's usage errors)."""

    exit_code = 2


class WrongProjectError(UsageError):
    """A daemon was asked about a repository it does not serve."""


class ConfigError(CidxError):
    """config.json missing, malformed or invalid."""


class IndexMissingError(CidxError):
    """No index has been built yet for this repository."""


class StoreCorruptError(CidxError):
    """An index file cannot be read; the fix is `cidx index --clear`."""


class EmbeddingError(CidxError):
    """The embedding provider failed (model package missing, HTTP error, timeout)."""


class DiskFullError(CidxError):
    """No space left where the index lives; what was committed is intact."""


class IndexBusyError(CidxError):
    """Another process holds the writer lock."""


class IndexCancelled(CidxError):
    """Indexing was interrupted; what was committed stays."""

    exit_code = 130

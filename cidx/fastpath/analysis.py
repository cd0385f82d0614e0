"""The text analysis of the full-text index: one function for indexing and for queries (ADR 0013).

Code is not prose: identifiers carry the words. Every `\\w+` run is a term as it stands (so an exact
identifier still matches itself) and, when it is a compound, also each of its words:
`parse_config` -> parse_config, parse, config; `parseConfig` -> parseconfig, parse, config;
`HTTPServer` -> httpserver, http, server; `utf8` -> utf8, utf, 8. Tantivy's built-in tokenizers cannot
split camelCase, so the analysis runs here and the index only splits the result on whitespace.
Pure and deterministic: the index and the query must agree term for term.
"""


import re

WORD = re.compile(r"\w+")
# ASCII identifiers (nearly all of them): an acronym run up to the capital that starts the next word
# (HTTPServer -> HTTP, Server), a plural acronym (URLs, IDs), a capitalised or lower-case word, a digit run.
_ASCII_PART = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
MAX_TERM_CHARS = 100  # longer runs (base64 blobs, hashes) are not words anyone types
# Name grams (ADR 0013): names often run words together in lower case (`isclosed`, `getheader`,
# `sendfile`), which no splitting rule can cut, and a query says `closed`. The 4-grams of each word of a
# chunk's names are a field of their own; an any-term query looks each of its words of at least
# GRAM_MIN_WORD characters up by its grams. 4 rather than 3: as good on both quality sets, and a
# 3-gram shared by chance (`later` and `jitter` share `ter`) matches unrelated names far more often.
GRAM_CHARS = 4
GRAM_MIN_WORD = 4

# A small English stop list for the any-term (OR) queries: function words that match nearly every
# docstring-free chunk only by accident. Code keywords that are also English (if, for, in, is, not,
# with, return, class...) are kept unless they are plain function words in a sentence; a query made
# only of stop words keeps them all (`--fts "is not"` must still mean something).
STOP_WORDS = frozenset(
    "a an the of to in on at by for from with as into onto about over than then this that these those "
    "it its is are was were be been being do does did has have had having will would shall should can "
    "could may might must and or but nor so such any all each every some no not only own same too very "
    "which who whom whose what when where why how there here if else whether while i we you he she they "
    "me us him her them my our your their one given using use used".split()
)


def _char_class(ch: str) -> int:
    if ch.isdigit():
        return 2
    return 1 if ch.isupper() else 0


def _split_unicode(piece: str) -> list[str]:
    """Same rules as _ASCII_PART for identifiers with non-ASCII letters (Größe, naïveParser)."""
    parts, start = [], 0
    for i in range(1, len(piece)):
        prev, cur = _char_class(piece[i - 1]), _char_class(piece[i])
        nxt = _char_class(piece[i + 1]) if i + 1 < len(piece) else None
        boundary = ((prev == 0 and cur == 1) or (prev == 2) != (cur == 2)
                    or (prev == 1 and cur == 1 and nxt == 0 and piece[i + 1].isalpha()))
        if boundary:
            parts.append(piece[start:i])
            start = i
    parts.append(piece[start:])
    return parts


def split_identifier(token: str) -> list[str]:
    """The words of one `\\w+` run, in their original case; [token] when it has only one word."""
    parts: list[str] = []
    for piece in token.split("_"):
        if not piece:
            continue
        if piece.isascii():
            found = _ASCII_PART.findall(piece)
            parts.extend(found if "".join(found) == piece else _split_unicode(piece))
        else:
            parts.extend(_split_unicode(piece))
    return parts or [token]


def _words(text: str, lowercase: bool):
    """(whole term, its parts) for each `\\w+` run; parts == () when the run is a single word."""
    for token in WORD.findall(text):
        if len(token) > MAX_TERM_CHARS:
            continue
        parts = split_identifier(token)
        if lowercase:
            token = token.lower()
            parts = [p.lower() for p in parts]
        yield token, (tuple(parts) if len(parts) > 1 or parts[0] != token else ())


def index_terms(text: str, *, lowercase: bool) -> str:
    """The document as the index stores it: whitespace-separated terms, each run then its parts."""
    out: list[str] = []
    for whole, parts in _words(text, lowercase):
        out.append(whole)
        out.extend(parts)
    return " ".join(out)


def query_words(text: str, *, lowercase: bool) -> list[tuple[str, tuple[str, ...]]]:
    """The query's runs (deduplicated, in order) with their parts, analysed exactly as index_terms."""
    return list(dict.fromkeys(_words(text, lowercase)))


def any_term_terms(text: str, *, lowercase: bool) -> list[str]:
    """The terms of an any-term (OR) query: every run and part, stop words dropped unless nothing
    else is left. A compound run keeps its whole form too: an exact identifier match scores higher."""
    terms: list[str] = []
    for whole, parts in query_words(text, lowercase=lowercase):
        terms.append(whole)
        terms.extend(parts)
    terms = list(dict.fromkeys(terms))
    kept = [t for t in terms if t.lower() not in STOP_WORDS]
    return kept or terms


def _grams(word: str) -> list[str]:
    return [word[i:i + GRAM_CHARS] for i in range(len(word) - GRAM_CHARS + 1)]


def _distinct_words(text: str) -> list[str]:
    """The lower-cased words of every run (a compound's parts, never the compound), each once."""
    return list(dict.fromkeys(w for whole, parts in _words(text, True) for w in (parts or (whole,))))


def name_grams(names: str) -> str:
    """The name-grams field of a chunk: the character 4-grams of each distinct word of its names, so
    `isclosed` is found by `closed` (`iscl sclo clos lose osed`). Grams never cross a word boundary."""
    return " ".join(g for word in _distinct_words(names) for g in _grams(word))


def query_gram_words(text: str) -> list[str]:
    """The query words looked up by their grams: words (not compounds) of at least GRAM_MIN_WORD
    characters, lower-cased, stop words dropped."""
    return [w for w in _distinct_words(text) if len(w) >= GRAM_MIN_WORD and w not in STOP_WORDS]


def query_grams(word: str) -> list[str]:
    """A query word's distinct grams, analysed as name_grams does."""
    return list(dict.fromkeys(_grams(word)))


def is_description(text: str) -> bool:
    """Two or more words besides stop words: the query describes something (`retry with backoff`)
    rather than naming it (`load_settings`, `parseConfig`, `m12v3`). Only a description is topped
    up with chunks holding some of its words; a name stays an exact lookup."""
    runs = {whole for whole, _ in query_words(text, lowercase=True)}
    return len(runs - STOP_WORDS) >= 2


def terms_pattern(text: str, *, case_sensitive: bool) -> re.Pattern | None:
    """Where a full-text hit's words are: each query run and its words (`parse_config` is also found
    as `parseConfig`), the longest first so an exact identifier wins over its parts at one place.
    Stop words are left out unless the query has nothing else: `a` or `the` is in every line."""
    terms = any_term_terms(text, lowercase=False)
    if not terms:
        return None
    ordered = sorted(terms, key=lambda t: (-len(t), t))
    return re.compile("|".join(re.escape(t) for t in ordered), 0 if case_sensitive else re.IGNORECASE)

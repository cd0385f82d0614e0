"""Chunks that follow syntax: one chunk per function/method/class where it fits, small neighbours
together, an oversized definition in overlapping windows that carry its signature (ADR 0012).

The file is parsed with tree-sitter (cidx/source/grammars.py). At each level (the file, a class
body, any other large statement) the children are turned into *items*: consecutive line ranges that
together cover the level's whole range, so every non-blank line lands in some chunk (module code
between definitions, closing braces and blank lines join the neighbouring item). Items are packed
greedily into chunks of at most `group_chars`; a definition up to `definition_chars` is a chunk on
its own; anything larger is cut further: a class between its members, a function into the
line-window chunker's overlapping windows, any other node between its children.

Line numbers are exactly those of `split_lines` (LF only, CRLF = LF, BOM stripped): the text is
normalised the same way before parsing, and tree-sitter's byte offsets are mapped to lines by the
byte offsets of the LF characters, never by tree-sitter's rows (which also break at a lone CR).
A file that does not parse cleanly, a missing grammar or a language without one: line windows.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from cidx.source import grammars
from cidx.source.chunker import (CHUNKING_ID, DEFAULT_MAX_CHARS, DEFAULT_MAX_LINES, DEFAULT_OVERLAP_LINES, Chunk,
                                 chunk_text, split_lines)

GROUP_MAX_CHARS = DEFAULT_MAX_CHARS  # neighbours share a chunk up to the line-window size
DEFINITION_MAX_CHARS = 800  # a whole definition up to this is one chunk (measured against 1,600: ADR 0012)
# Small definitions packed together dilute each other's vector: measured on the dev set, a function
# sharing its chunk was found less often than one alone (ADR 0012). So a chunk holds at most one
# definition; module code (imports, constants, a class's header lines) still joins its neighbours.
PACK_DEFINITIONS = False
# The same holds inside a class: a small class (up to `definition_chars`) of several methods, e.g. an
# interface of stubs, was one chunk whose vector blended them all. It is cut between its members like a
# large one, so each method is found on its own (ADR 0012, measured on the dev and a held-out-like set).
SPLIT_SMALL_CLASSES = True
MAX_DEPTH = 24  # deeper nesting (long expression chains) is cut by line windows, not recursion
SIGNATURE_MAX_CHARS = 200
# Recorded in the index (with the header and analyzer ids, cidx/indexer.py): changing how chunks are
# cut makes the next `cidx index` rebuild, reusing the vectors of unchanged embedded text.
SYNTAX_CHUNKING_ID = (f"s2:{GROUP_MAX_CHARS}g/{DEFINITION_MAX_CHARS}d{'/p' if PACK_DEFINITIONS else ''}"
                      f"{'/c' if SPLIT_SMALL_CLASSES else ''}+{CHUNKING_ID}")


def chunk_source(text: str, language: str | None, *, group_chars: int = GROUP_MAX_CHARS,
                 definition_chars: int = DEFINITION_MAX_CHARS,
                 pack_definitions: bool = PACK_DEFINITIONS) -> list[Chunk]:
    """Syntax-aware chunks for languages with a grammar, line windows for everything else."""
    parser = grammars.parser_for(language) if language else None
    if parser is None:
        return chunk_text(text)
    lines = split_lines(text)
    if not lines:
        return []
    source = "\n".join(lines).encode("utf-8", "surrogatepass")
    try:
        tree = parser.parse(source)
    except Exception:  # the binding refused the input (e.g. a NUL-heavy file): line windows
        return chunk_text(text)
    if tree.root_node.has_error:
        return chunk_text(text)  # a file that does not parse: its structure is not to be trusted
    try:
        return _Chunker(lines, language, group_chars, definition_chars, pack_definitions).run(tree.root_node)
    except RecursionError:
        return chunk_text(text)


@dataclass
class _Item:
    start: int  # 0-based line index, inclusive
    end: int  # inclusive
    nodes: list = field(default_factory=list)
    definition: "_Definition | None" = None  # set by _Chunker._level

    @property
    def attached_only(self) -> bool:
        return all(n.type in grammars.ATTACHED for n in self.nodes)


@dataclass(frozen=True)
class _Definition:
    node: object  # the definition itself (inside any wrapper)
    kind: str  # "function" or "class"
    label: str  # "def load_settings", "class HttpClient"
    signature_line: int  # 0-based line holding the name


class _Chunker:
    def __init__(self, lines: list[str], language: str, group_chars: int, definition_chars: int,
                 pack_definitions: bool):
        self.lines = lines
        self.pack_definitions = pack_definitions
        self.functions = grammars.FUNCTIONS[language]
        self.classes = grammars.CLASSES[language]
        self.group_chars = group_chars
        self.definition_chars = max(definition_chars, group_chars)
        self.line_starts: list[int] = []  # byte offset of each line in the parsed (normalised) text
        self.char_starts: list[int] = []  # character offset of each line, and one past the end
        offset = chars = 0
        for line in lines:
            self.line_starts.append(offset)
            self.char_starts.append(chars)
            offset += (len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))) + 1
            chars += len(line) + 1
        self.char_starts.append(chars)
        self.out: list[Chunk] = []

    def run(self, root) -> list[Chunk]:
        self._level(root.named_children, 0, len(self.lines) - 1, (), 0)
        return self.out

    # -- lines ----------------------------------------------------------------------------------
    def _line_of(self, byte: int) -> int:
        return max(0, bisect_right(self.line_starts, byte) - 1)

    def _span(self, node) -> tuple[int, int]:
        start = self._line_of(node.start_byte)
        return start, max(start, self._line_of(node.end_byte - 1))

    def _size(self, start: int, end: int) -> int:
        return self.char_starts[end + 1] - self.char_starts[start] - 1  # joined by "\n", none trailing

    # -- one level: items, packed ------------------------------------------------------------
    def _items(self, nodes, start: int, end: int) -> list[_Item]:
        items: list[_Item] = []
        for node in nodes:
            if node.end_byte <= node.start_byte:
                continue  # zero-width (a MISSING token)
            s, e = self._span(node)
            if items and s <= items[-1].end:  # shares a line with the previous node: one item
                items[-1].end = max(items[-1].end, e)
                items[-1].nodes.append(node)
            else:
                items.append(_Item(s, e, [node]))
        merged: list[_Item] = []
        for item in items:  # a comment/decorator right above something belongs to it
            if merged and merged[-1].attached_only and item.start == merged[-1].end + 1:
                merged[-1].end = item.end
                merged[-1].nodes.extend(item.nodes)
            else:
                merged.append(item)
        # Cover the whole range: lines between items (blank lines, a class's header line, `{`)
        # join the next item, trailing lines (`}`, `end`) the last one.
        for i, item in enumerate(merged):
            item.start = start if i == 0 else merged[i - 1].end + 1
        if merged:
            merged[-1].end = end
        return [item for item in merged if item.start <= item.end]

    def _level(self, nodes, start: int, end: int, scope: tuple[str, ...], depth: int) -> None:
        items = self._items(nodes, start, end)
        if not items:
            self._windows(start, end, scope, "")
            return
        group: list[_Item] = []
        group_size = 0
        for item in items:
            definition = item.definition = self._definition(item)
            size = self._size(item.start, item.end)
            if size > (self.definition_chars if definition else self.group_chars) or (
                    not self.pack_definitions and self._holds_definitions(definition, depth)):
                self._flush(group, scope)
                group, group_size = [], 0
                self._large(item, definition, scope, depth)
            elif size > self.group_chars:  # a definition a bit larger than a window: whole, alone
                self._flush(group, scope)
                self._flush([item], scope)
                group, group_size = [], 0
            elif group and (group_size + 1 + size > self.group_chars or (
                    definition is not None and not self.pack_definitions
                    and any(i.definition is not None for i in group))):
                self._flush(group, scope)  # full, or it would hold two definitions
                group, group_size = [item], size
            else:
                group.append(item)
                group_size += (1 if len(group) > 1 else 0) + size
        self._flush(group, scope)

    def _holds_definitions(self, definition: _Definition | None, depth: int) -> bool:
        """A class with two or more member definitions (SPLIT_SMALL_CLASSES): cut between them."""
        if not SPLIT_SMALL_CLASSES or definition is None or definition.kind != "class" or depth >= MAX_DEPTH:
            return False
        body = definition.node.child_by_field_name("body") or definition.node
        kinds = self.functions.keys() | self.classes.keys()
        return sum(1 for member in body.named_children if _unwrap(member).type in kinds) >= 2

    def _large(self, item: _Item, definition: _Definition | None, scope: tuple[str, ...], depth: int) -> None:
        if definition is not None:
            inner = scope + (definition.label,)
            if definition.kind == "class":
                body = definition.node.child_by_field_name("body") or definition.node
                members = body.named_children
                if members and depth < MAX_DEPTH:
                    self._level(members, item.start, item.end, inner, depth + 1)
                    return
            signature = self.lines[definition.signature_line].strip()[:SIGNATURE_MAX_CHARS]
            self._windows(item.start, item.end, inner, signature, definition.signature_line)
            return
        main = [n for n in item.nodes if n.type not in grammars.ATTACHED]
        if len(main) == 1 and main[0].named_children and item.start < item.end and depth < MAX_DEPTH:
            self._level(main[0].named_children, item.start, item.end, scope, depth + 1)
        else:
            self._windows(item.start, item.end, scope, "")

    # -- emitting -------------------------------------------------------------------------------
    def _flush(self, group: list[_Item], scope: tuple[str, ...]) -> None:
        if not group:
            return
        labels = [item.definition.label for item in group if item.definition is not None]
        context = scope + (", ".join(labels),) if labels else scope
        self._emit(group[0].start, group[-1].end, context, "")

    def _emit(self, start: int, end: int, context: tuple[str, ...], signature: str) -> None:
        """Lines start..end (0-based, inclusive) as a chunk, without leading or trailing blank lines."""
        while start <= end and not self.lines[start].strip():
            start += 1
        while end >= start and not self.lines[end].strip():
            end -= 1
        if start <= end:
            self.out.append(Chunk(start + 1, end + 1, "\n".join(self.lines[start:end + 1]), context, signature))

    def _windows(self, start: int, end: int, scope: tuple[str, ...], signature: str,
                 signature_line: int = -1) -> None:
        """The line-window chunker over lines start..end; pieces that start after the signature
        line carry it in their header."""
        body = "\n".join(self.lines[start:end + 1])
        for piece in chunk_text(body, max_chars=DEFAULT_MAX_CHARS, max_lines=DEFAULT_MAX_LINES,
                                overlap_lines=DEFAULT_OVERLAP_LINES):
            first, last = piece.start_line + start - 1, piece.end_line + start - 1  # 0-based
            while not self.lines[first].strip():
                first += 1  # the piece has a non-blank line: this stops inside it
            carried = signature if first > signature_line else ""
            if first == last and piece.text != self.lines[first]:  # a slice of one long line
                self.out.append(Chunk(first + 1, first + 1, piece.text, scope, carried))
            else:
                self._emit(first, last, scope, carried)

    # -- definitions ------------------------------------------------------------------------------
    def _definition(self, item: _Item) -> _Definition | None:
        main = [n for n in item.nodes if n.type not in grammars.ATTACHED]
        if len(main) != 1:
            return None
        node = _unwrap(main[0])
        if node.type in grammars.VARIABLE_DECLARATIONS:
            return self._function_variable(node)
        if node.type in self.functions:
            kind, word = "function", self.functions[node.type]
        elif node.type in self.classes:
            kind, word = "class", self.classes[node.type]
        else:
            return None
        name_node = _name_node(node)
        name = _text(name_node) if name_node is not None else ""
        line = self._span(name_node)[0] if name_node is not None else self._span(node)[0]
        if not name:
            name = self.lines[line].strip()[:80]
        return _Definition(node, kind, f"{word} {name}", line)

    def _function_variable(self, node) -> _Definition | None:
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        value = declarators[0].child_by_field_name("value")
        name = declarators[0].child_by_field_name("name")
        if value is None or name is None or value.type not in grammars.FUNCTION_VALUES:
            return None
        return _Definition(value, "function", f"function {_text(name)}", self._span(name)[0])


def _unwrap(node):
    for _ in range(4):  # export default @decorated class ...: wrappers may nest
        field_name = grammars.WRAPPERS.get(node.type)
        if field_name is None:
            return node
        inner = node.child_by_field_name(field_name) if field_name else (
            node.named_children[-1] if node.named_children else None)
        if inner is None:
            return node
        node = inner
    return node


def _name_node(node):
    name = node.child_by_field_name("name")
    if name is not None:
        return name
    if node.type == "impl_item":  # Rust: impl Trait for Type
        return node.child_by_field_name("type")
    declarator = node.child_by_field_name("declarator")  # C/C++: int *(*f)(void) -> f
    while declarator is not None:
        inner = declarator.child_by_field_name("declarator")
        if inner is None:
            return declarator
        declarator = inner
    return None


def _text(node) -> str:
    text = node.text.decode("utf-8", "replace") if node.text is not None else ""
    return " ".join(text.split())[:80]

"""Which tree-sitter grammar parses which language, and which of its nodes are definitions.

Grammars come from wheels (tree-sitter-python, ...); nothing is downloaded. They are imported lazily,
on the first file of their language, so only indexing pays for them (never the query path). A
grammar that is missing or fails to load makes `parser_for` return None: the caller falls back to
the line-window chunker.

Per language, node types are sorted into:
- FUNCTIONS: leaves. A function larger than the limit is split into overlapping line windows, each
  carrying the signature line in its header.
- CLASSES: containers. A large one is cut between its members (methods, nested classes).
- WRAPPERS: a node that wraps one definition (decorators, `export`, `template<...>`): the wrapper's
  lines belong to the definition, its kind is the definition's.
- ATTACHED: comments, decorators and attributes standing alone before a definition: they join the
  next item when no blank line separates them, so a doc comment stays with what it documents.
The value of FUNCTIONS/CLASSES is the word shown in the embedded header (`def`, `class`, ...).
"""

from __future__ import annotations

import importlib
import threading

# language -> (module, function returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
}

_JS_FUNCTIONS = {"function_declaration": "function", "generator_function_declaration": "function",
                 "method_definition": "method", "function_signature": "function"}
_JS_CLASSES = {"class_declaration": "class", "class": "class", "abstract_class_declaration": "class",
               "interface_declaration": "interface", "internal_module": "namespace", "module": "module",
               "enum_declaration": "enum"}
_C_FUNCTIONS = {"function_definition": "function"}
_CPP_CLASSES = {"class_specifier": "class", "struct_specifier": "struct", "namespace_definition": "namespace"}

FUNCTIONS: dict[str, dict[str, str]] = {
    "python": {"function_definition": "def"},
    "javascript": _JS_FUNCTIONS,
    "typescript": _JS_FUNCTIONS,
    "tsx": _JS_FUNCTIONS,
    "go": {"function_declaration": "func", "method_declaration": "func"},
    "rust": {"function_item": "fn"},
    "java": {"method_declaration": "method", "constructor_declaration": "constructor"},
    "c": _C_FUNCTIONS,
    "cpp": _C_FUNCTIONS,
    "ruby": {"method": "def", "singleton_method": "def"},
}

CLASSES: dict[str, dict[str, str]] = {
    "python": {"class_definition": "class"},
    "javascript": _JS_CLASSES,
    "typescript": _JS_CLASSES,
    "tsx": _JS_CLASSES,
    "go": {},
    "rust": {"impl_item": "impl", "trait_item": "trait", "mod_item": "mod"},
    "java": {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
             "record_declaration": "record", "annotation_type_declaration": "@interface"},
    "c": {},
    "cpp": _CPP_CLASSES,
    "ruby": {"class": "class", "module": "module", "singleton_class": "class"},
}

# wrapper type -> field holding the wrapped definition ("" = its last named child)
WRAPPERS: dict[str, str] = {"decorated_definition": "definition", "export_statement": "declaration",
                            "template_declaration": ""}

# `const area = (r) => ...`: a function by another name (JS/TS)
VARIABLE_DECLARATIONS = {"lexical_declaration", "variable_declaration"}
FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}

ATTACHED = {"comment", "line_comment", "block_comment", "decorator", "attribute_item", "inner_attribute_item"}

_languages: dict[str, object] = {}
_lock = threading.Lock()


def parser_for(language: str):
    """A fresh tree_sitter.Parser for `language`, or None when there is no (loadable) grammar."""
    spec = GRAMMARS.get(language)
    if spec is None:
        return None
    with _lock:
        lang = _languages.get(language)
        if lang is None and language not in _languages:
            try:
                from tree_sitter import Language

                lang = Language(getattr(importlib.import_module(spec[0]), spec[1])())
            except Exception:  # missing wheel, ABI mismatch: line windows instead, never a crash
                lang = None
            _languages[language] = lang
    if lang is None:
        return None
    from tree_sitter import Parser

    return Parser(lang)

"""A small command-line parser over a table of options, for `cidx query` (see cidx/fastpath/params.py).

Not argparse: building an argparse parser on every run imports shutil, gettext and locale, ~4 ms
of a warm query's 50 ms budget (ADR 0009). This parser takes the same command lines as argparse's
`parse_intermixed_args` on the same table, with the same error messages, and
tests/unit/test_query_args.py checks that against argparse itself on generated command lines:

- `--name value`, `--name=value`, `-x value`, `-xVALUE`, unique prefixes of long names (`--lim`),
  short flags chained (`-qh`), `--` ends the options, a lone `-` and negative numbers are words;
- positional words may come before, between and after options (intermixed);
- errors: ambiguous prefixes first (argparse classifies every word before it consumes any), then
  bad values left to right, then a missing TEXT, then unrecognized options.
"""

from collections import namedtuple

from cidx.fastpath.errors import UsageError

# flags: ("-l", "--limit"); dest: the key of the result; kind: "flag" | "value" | "append" | "help";
# convert(str) -> value raises ValueError with the message to show; choices: allowed values or ().
Option = namedtuple("Option", "flags dest kind help metavar convert choices", defaults=("", None, ()))


def _is_negative_number(word: str) -> bool:
    # argparse's _negative_number_matcher: '^-\d+$|^-\d*\.\d+$' (ASCII and Unicode digits alike)
    body = word[1:]
    if body.isdigit():
        return True
    whole, dot, fraction = body.partition(".")
    return bool(dot) and (whole == "" or whole.isdigit()) and fraction.isdigit()


class ArgvParser:
    def __init__(self, prog: str, description: str, positional: tuple[str, str], options: tuple):
        self.prog, self.description = prog, description
        self.positional_name, self.positional_help = positional
        self.options = options
        self.by_flag = {flag: opt for opt in options for flag in opt.flags}

    def error(self, message: str) -> UsageError:
        return UsageError(f"{self.prog}: {message}")

    def _argument_error(self, opt: Option, message: str) -> UsageError:
        return self.error(f"argument {'/'.join(opt.flags)}: {message}")

    # -- classification (argparse's _parse_optional) -------------------------------------------------
    def _classify(self, word: str):
        """(option, flag, explicit value or None) for an option word; None for a positional word;
        (None, word, None) for an unknown option."""
        if not word or word[0] != "-" or word == "-":
            return None
        if word in self.by_flag:
            return self.by_flag[word], word, None
        if "=" in word:
            flag, value = word.split("=", 1)
            if flag in self.by_flag:
                return self.by_flag[flag], flag, value
        matches = self._prefix_matches(word)
        if len(matches) > 1:
            names = ", ".join(flag for _, flag, _ in matches)
            raise self.error(f"ambiguous option: {word} could match {names}")
        if matches:
            return matches[0]
        if _is_negative_number(word) or " " in word:
            return None
        return None, word, None

    def _prefix_matches(self, word: str) -> list:
        matches = []
        if word[1] == "-":
            prefix, _, value = word.partition("=")
            explicit = value if "=" in word else None
            for flag, opt in self.by_flag.items():
                if flag.startswith(prefix):
                    matches.append((opt, flag, explicit))
        else:
            for flag, opt in self.by_flag.items():
                if flag == word[:2]:
                    matches.append((opt, flag, word[2:]))
                elif flag.startswith(word):
                    matches.append((opt, flag, None))
        return matches

    # -- parsing -----------------------------------------------------------------------------------
    def parse(self, argv: list[str]) -> tuple[dict, list[str]]:
        """({dest: value} for every option, [positional words]). Raises UsageError; prints the help
        and raises SystemExit(0) for -h/--help."""
        words = list(argv)
        kinds = []  # per word: a classification tuple, None (positional) or "--"
        after_separator = False
        for word in words:
            if after_separator:
                kinds.append(None)
            elif word == "--":
                kinds.append("--")
                after_separator = True
            else:
                kinds.append(self._classify(word))
        values = {opt.dest: ([] if opt.kind == "append" else (False if opt.kind == "flag" else None))
                  for opt in self.options if opt.kind != "help"}
        positionals: list[str] = []
        unknown: list[str] = []
        seen_separator = False
        i = 0
        while i < len(words):
            kind = kinds[i]
            if kind == "--":
                if seen_separator:
                    positionals.append(words[i])
                seen_separator = True
            elif kind is None:
                positionals.append(words[i])
            elif kind[0] is None:
                unknown.append(words[i])
            else:
                i = self._consume(kind, words, kinds, i, values)
            i += 1
        if not positionals:
            raise self.error(f"the following arguments are required: {self.positional_name}")
        if unknown:
            raise self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return values, positionals

    def _consume(self, kind, words: list[str], kinds: list, i: int, values: dict) -> int:
        """Apply one option word (and its value); returns the index of the last word used."""
        opt, flag, explicit = kind
        while opt.kind in ("flag", "help") and explicit is not None:
            # argparse: `-qh` is -q then -h; `--fts=x` and `-q5` are errors
            if flag[1] == "-" or explicit == "":
                raise self._argument_error(opt, f"ignored explicit argument {explicit!r}")
            self._store(opt, None, values)
            flag, explicit = "-" + explicit[0], explicit[1:] or None
            if flag not in self.by_flag:
                raise self._argument_error(opt, f"ignored explicit argument {flag[1:] + (explicit or '')!r}")
            opt = self.by_flag[flag]
        if opt.kind in ("flag", "help"):
            self._store(opt, None, values)
            return i
        if explicit is not None:
            self._store(opt, explicit, values)
            return i
        if i + 1 >= len(words) or kinds[i + 1] is not None:
            raise self._argument_error(opt, "expected one argument")
        self._store(opt, words[i + 1], values)
        return i + 1

    def _store(self, opt: Option, raw: str | None, values: dict) -> None:
        if opt.kind == "help":
            print(self.format_help(), end="")
            raise SystemExit(0)
        if opt.kind == "flag":
            values[opt.dest] = True
            return
        value = raw
        if opt.convert is not None:
            try:
                value = opt.convert(raw)
            except ValueError as exc:
                raise self._argument_error(opt, str(exc)) from None
        if opt.choices and value not in opt.choices:
            allowed = ", ".join(repr(c) for c in opt.choices)
            raise self._argument_error(opt, f"invalid choice: {value!r} (choose from {allowed})")
        if opt.kind == "append":
            values[opt.dest].append(value)
        else:
            values[opt.dest] = value

    # -- help --------------------------------------------------------------------------------------
    def format_help(self) -> str:
        def row(left: str, text: str) -> str:
            return f"  {left:<30}{text}" if len(left) < 29 else f"  {left}\n  {'':<30}{text}"

        lines = [f"usage: {self.prog} [options] {self.positional_name}...", "", self.description, "",
                 "arguments:", row(f"{self.positional_name}...", self.positional_help), "", "options:"]
        for opt in self.options:
            left = ", ".join(opt.flags)
            if opt.kind in ("value", "append"):
                left += " " + (("{" + ",".join(opt.choices) + "}") if opt.choices else opt.metavar)
            lines.append(row(left, opt.help))
        return "\n".join(lines) + "\n"

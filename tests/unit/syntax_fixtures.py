"""One small source file per language with a grammar, for tests/unit/test_syntax_chunker.py.

Markers in comments say where the chunk of a definition must start (`NAME-start`) and end
(`NAME-end`); `EXPECTED` gives the header context that chunk must carry. A class too large for one
chunk is cut between its members, and its header line (`class Outer {`) joins its first member, so
the first member's start marker sits on the class line. `huge` is larger than any limit: it must be
split. `{fill}` is padding (a few statements) that makes definitions too large to share a chunk
with the limits the tests use; `{pad}` makes the module prologue a chunk of its own.
"""

from __future__ import annotations

import textwrap

GROUP_CHARS = 400
DEFINITION_CHARS = 400

FILL = {
    "python": 'value = compute(value, "padding text")',
    "javascript": 'value = compute(value, "padding text");',
    "typescript": 'value = compute(value, "padding text");',
    "tsx": 'value = compute(value, "padding text");',
    "go": 'value = compute(value, "padding text")',
    "rust": 'let value = compute(value, "padding text");',
    "java": 'value = compute(value, "padding text");',
    "c": 'value = compute(value, "padding text");',
    "cpp": 'value = compute(value, "padding text");',
    "ruby": 'value = compute(value, "padding text")',
}

SOURCES = {
    "python": '''
        PROLOGUE = "{pad}"

        # alpha-start: a comment right above a decorated function belongs to it
        @decorator(option=True)
        def alpha(x):
            {fill}
            return x  # alpha-end


        class Outer:  # beta-start
            def beta(self):
                {fill}
                return 1  # beta-end

            class Inner:  # gamma-start
                @staticmethod
                def gamma():
                    {fill}
                    return 2  # gamma-end

                def delta(self):  # delta-start
                    {fill}
                    return 3  # delta-end


        def huge(a, b):
            {huge}
            return a


        if __name__ == "__main__":
            huge(1, 2)
        ''',
    "javascript": '''
        const PROLOGUE = "{pad}";

        // alpha-start: a doc comment belongs to its function
        function alpha(x) {
          {fill}
          return x;
        }  // alpha-end

        class Outer {  // beta-start
          beta() {
            {fill}
            return 1;
          }  // beta-end

          gamma() {  // gamma-start
            {fill}
            return 2;
          }
        }  // gamma-end

        const delta = (x) => {  // delta-start
          {fill}
          return x;
        };  // delta-end

        function huge(a, b) {
          {huge}
          return a;
        }

        module.exports = { alpha, Outer, huge };
        ''',
    "typescript": '''
        const PROLOGUE: string = "{pad}";

        // alpha-start: a doc comment belongs to its function
        export function alpha(x: number): number {
          {fill}
          return x;
        }  // alpha-end

        class Outer {  // beta-start
          @logged
          beta(): number {
            {fill}
            return 1;
          }  // beta-end

          @logged  // gamma-start
          gamma(): number {
            {fill}
            return 2;
          }
        }  // gamma-end

        interface Shape {  // delta-start
          area(): number;
          perimeter(scale: number, precision: number, rounding: string): number;
          vertices(includeHidden: boolean, includeDegenerate: boolean): number[];
          label?: string;
          describe(language: string, verbose: boolean, withUnits: boolean): string;
        }  // delta-end

        function huge(a: number, b: number): number {
          {huge}
          return a;
        }
        ''',
    "tsx": '''
        const PROLOGUE: string = "{pad}";

        // alpha-start: a component
        export function alpha(x: number) {
          {fill}
          return <b className="x">{{x}}</b>;
        }  // alpha-end

        class Outer {  // beta-start
          beta(): number {
            {fill}
            return 1;
          }  // beta-end

          gamma() {  // gamma-start
            {fill}
            return <i>{{this.beta()}}</i>;
          }
        }  // gamma-end

        function huge(a: number, b: number): number {
          {huge}
          return a;
        }
        ''',
    "go": '''
        package demo

        var prologue = "{pad}"

        // alpha-start: a doc comment belongs to its function
        func alpha(x int) int {
        	{fill}
        	return x
        }  // alpha-end

        type Outer struct {
        	field int  // {pad}
        }

        // beta-start
        func (o *Outer) beta() int {
        	{fill}
        	return 1
        }  // beta-end

        func huge(a int, b int) int {
        	{huge}
        	return a
        }
        ''',
    "rust": '''
        const PROLOGUE: &str = "{pad}";

        /// alpha-start: doc comment and attribute belong to the function
        #[inline]
        fn alpha(x: i32) -> i32 {
            {fill}
            x
        }  // alpha-end

        impl Outer {  // beta-start
            fn beta(&self) -> i32 {
                {fill}
                1
            }  // beta-end

            fn gamma(&self) -> i32 {  // gamma-start
                {fill}
                2
            }
        }  // gamma-end

        mod nested {  // delta-start
            impl Inner {
                fn delta(&self) -> i32 {
                    {fill}
                    3
                }  // delta-end

                fn epsilon(&self) -> i32 {
                    {fill}
                    4
                }
            }
        }

        fn huge(a: i32, b: i32) -> i32 {
            {huge}
            a
        }
        ''',
    "java": '''
        package demo;

        import java.util.List;

        public class Outer {  // alpha-start
            // the annotation belongs to its method
            @Override
            public int alpha(int x) {
                {fill}
                return x;
            }  // alpha-end

            static class Inner {  // gamma-start
                int gamma() {
                    {fill}
                    return 2;
                }  // gamma-end

                int delta() {  // delta-start
                    {fill}
                    return 3;
                }
            }  // delta-end

            int huge(int a, int b) {
                {huge}
                return a;
            }
        }
        ''',
    "c": '''
        #include <stdio.h>
        static const char *prologue = "{pad}";

        /* alpha-start: GNU style, the name on its own line */
        static int
        alpha(int x)
        {
            {fill}
            return x;
        }  /* alpha-end */

        struct outer { int a; };  /* {pad} */

        int beta(void) {  // beta-start
            {fill}
            return 1;
        }  // beta-end

        int huge(int a, int b) {
            {huge}
            return a;
        }
        ''',
    "cpp": '''
        #include <string>
        static const char *prologue = "{pad}";

        namespace space {  // beta-start
        class Outer {
         public:
          int beta() {
            {fill}
            return 1;
          }  // beta-end

          class Inner {  // gamma-start
           public:
            int gamma() {
              {fill}
              return 2;
            }  // gamma-end

            int delta() {  // delta-start
              {fill}
              return 3;
            }
          };
        };

        }  // namespace space, delta-end

        template <typename T>
        T huge(T a, T b) {
          {huge}
          return a;
        }
        ''',
    "ruby": '''
        PROLOGUE = "{pad}"

        # alpha-start: a doc comment belongs to its method
        def alpha(x)
          {fill}
          x
        end  # alpha-end

        class Outer  # beta-start
          def beta
            {fill}
            1
          end  # beta-end

          class Inner  # gamma-start
            def gamma
              {fill}
              2
            end  # gamma-end

            def delta  # delta-start
              {fill}
              3
            end
          end
        end  # delta-end

        def huge(a, b)
          {huge}
          a
        end
        ''',
}

# language -> {name: expected header context of the chunk that starts at NAME-start}
EXPECTED = {
    "python": {"alpha": ("def alpha",), "beta": ("class Outer", "def beta"),
               "gamma": ("class Outer", "class Inner", "def gamma"),
               "delta": ("class Outer", "class Inner", "def delta")},
    "javascript": {"alpha": ("function alpha",), "beta": ("class Outer", "method beta"),
                   "gamma": ("class Outer", "method gamma"), "delta": ("function delta",)},
    "typescript": {"alpha": ("function alpha",), "beta": ("class Outer", "method beta"),
                   "gamma": ("class Outer", "method gamma"), "delta": ("interface Shape",)},
    "tsx": {"alpha": ("function alpha",), "beta": ("class Outer", "method beta"),
            "gamma": ("class Outer", "method gamma")},
    "go": {"alpha": ("func alpha",), "beta": ("func beta",)},
    "rust": {"alpha": ("fn alpha",), "beta": ("impl Outer", "fn beta"), "gamma": ("impl Outer", "fn gamma"),
             "delta": ("mod nested", "impl Inner", "fn delta")},
    "java": {"alpha": ("class Outer", "method alpha"), "gamma": ("class Outer", "class Inner", "method gamma"),
             "delta": ("class Outer", "class Inner", "method delta")},
    "c": {"alpha": ("function alpha",), "beta": ("function beta",)},
    "cpp": {"beta": ("namespace space", "class Outer", "function beta"),
            "gamma": ("namespace space", "class Outer", "class Inner", "function gamma"),
            "delta": ("namespace space", "class Outer", "class Inner", "function delta")},
    "ruby": {"alpha": ("def alpha",), "beta": ("class Outer", "def beta"),
             "gamma": ("class Outer", "class Inner", "def gamma"),
             "delta": ("class Outer", "class Inner", "def delta")},
}

HUGE_SIGNATURES = {
    "python": "def huge(a, b):", "javascript": "function huge(a, b) {",
    "typescript": "function huge(a: number, b: number): number {",
    "tsx": "function huge(a: number, b: number): number {", "go": "func huge(a int, b int) int {",
    "rust": "fn huge(a: i32, b: i32) -> i32 {", "java": "int huge(int a, int b) {",
    "c": "int huge(int a, int b) {", "cpp": "T huge(T a, T b) {", "ruby": "def huge(a, b)",
}


def source(language: str, fill_lines: int = 5, huge_lines: int = 80) -> str:
    """The fixture of `language` with its padding filled in (indentation kept)."""
    template = textwrap.dedent(SOURCES[language]).lstrip("\n")
    out = []
    for line in template.split("\n"):
        indent = line[:len(line) - len(line.lstrip())]
        if line.strip() == "{fill}":
            out.extend(indent + FILL[language] for _ in range(fill_lines))
        elif line.strip() == "{huge}":
            out.extend(indent + FILL[language].replace("padding", f"step {i}") for i in range(huge_lines))
        else:
            out.append(line.replace("{pad}", "p" * 200).replace("{{", "{").replace("}}", "}"))
    return "\n".join(out)


def marker_line(text: str, marker: str) -> int:
    """1-based number of the only line containing `marker`."""
    found = [i + 1 for i, line in enumerate(text.split("\n")) if marker in line]
    assert len(found) == 1, (marker, found)
    return found[0]

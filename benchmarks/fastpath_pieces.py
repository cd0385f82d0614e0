"""What each hand-written fast-path piece saves (ADR 0016): warm `cidx query` with the piece swapped for the
plain alternative, against the unchanged code, interleaved in shuffled rounds with `python -c pass`.

Usage, from a plain (non-editable) install with a daemon-enabled, indexed REPO whose daemon runs:
    VENV/bin/python benchmarks/fastpath_pieces.py VENV/lib/python3.X/site-packages VENV/bin REPO ROUNDS OUT.json
Each variant is a patched copy of the installed cidx package in /tmp/fp-var/<name>, run through a
copy of the venv's console script that puts that copy first on sys.path (the base variant too).
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

SITE, BIN, REPO, ROUNDS, OUT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
VAR = "/tmp/fp-var"
PY = os.path.join(BIN, "python")

ARGPARSE_PARSE = '''
    def parse(self, argv):
        import argparse

        class _P(argparse.ArgumentParser):
            def error(p, message):
                raise self.error(message)

        p = _P(prog=self.prog, add_help=False)
        p.add_argument("text", nargs="+")
        for opt in self.options:
            if opt.kind == "help":
                p.add_argument(*opt.flags, action="help")
            elif opt.kind == "flag":
                p.add_argument(*opt.flags, dest=opt.dest, action="store_true")
            elif opt.kind == "append":
                p.add_argument(*opt.flags, dest=opt.dest, action="append", default=[])
            else:
                conv = opt.convert
                def typed(raw, conv=conv):
                    if conv is None:
                        return raw
                    try:
                        return conv(raw)
                    except ValueError as exc:
                        raise argparse.ArgumentTypeError(str(exc))
                p.add_argument(*opt.flags, dest=opt.dest, type=typed, choices=opt.choices or None)
        ns = vars(p.parse_intermixed_args(argv))
        return ns, ns.pop("text")

    def _unused_parse(self, argv: list[str]) -> tuple[dict, list[str]]:'''

# name -> [(file, old, new)]; "" old = replace the whole file
VARIANTS = {
    "base": [],
    "no code pack (plain bytecode imports)": [
        ("entry.py", "        from cidx.fastpath import code_pack\n\n        code_pack.install()", "        pass"),
    ],
    "json instead of lightjson": [
        ("fastpath/lightjson.py", "",
         "import json\n\nloads = json.loads\n\n\ndef dumps(value, indent=2):\n    return json.dumps(value, indent=indent)\n"),
    ],
    "argparse instead of argv": [
        ("fastpath/argv.py", "\n    def parse(self, argv: list[str]) -> tuple[dict, list[str]]:", ARGPARSE_PARSE),
    ],
    "normal exit instead of os._exit": [
        ("fastpath/process_exit.py", "    if fast:\n        os._exit(code)", "    pass"),
    ],
    "full config (cidx.config.load_config) added": [
        ("fastpath/config.py", "    return FastConfig(candidate, data, DaemonSettings(tuple(delays), retries))",
         "    from cidx.config import load_config\n    from pathlib import Path\n    load_config(Path(candidate))\n"
         "    return FastConfig(candidate, data, DaemonSettings(tuple(delays), retries))"),
    ],
    "rpyc instead of the stdlib wire client": [
        ("fastpath/delegate.py", "            from cidx.fastpath.wire import WireConnection as connection_class",
         "            from cidx.client.connection import DaemonConnection as connection_class"),
    ],
}


def build() -> dict:
    with open(os.path.join(BIN, "cidx")) as f:
        script = f.read()
    launchers = {}
    shutil.rmtree(VAR, ignore_errors=True)
    for i, (name, patches) in enumerate(VARIANTS.items()):
        root = os.path.join(VAR, f"v{i}")
        shutil.copytree(os.path.join(SITE, "cidx"), os.path.join(root, "cidx"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for rel, old, new in patches:
            path = os.path.join(root, "cidx", rel)
            text = open(path).read()
            if old:
                assert text.count(old) == 1, (name, rel, old)
                text = text.replace(old, new)
            else:
                text = new
            with open(path, "w") as f:
                f.write(text)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        subprocess.run([PY, "-m", "compileall", "-q", os.path.join(root, "cidx")], check=True, env=env)
        if name != "no code pack (plain bytecode imports)":
            subprocess.run([PY, "-c", f"import sys; sys.path.insert(0, {root!r}); from cidx.fastpath import code_pack;"
                                      "assert code_pack.write()"], check=True, env=env)
        launcher = os.path.join(root, "cidx-run")
        with open(launcher, "w") as f:
            f.write(script.replace("import sys\n", f"import sys\nsys.path.insert(0, {root!r})\n", 1))
        os.chmod(launcher, 0o755)
        launchers[name] = launcher
    return launchers


def timed(argv, cwd, env):
    """(wall seconds, CPU seconds of the child: user + system, from wait4's rusage). Under a load
    of 20 on 2 cores the wall time is mostly waiting for a core; the CPU time is what the client
    itself spent, which is what a fast-path piece can save."""
    with open(os.path.join(VAR, "stderr.txt"), "w+b") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if proc.returncode != 0 or b"daemon unavailable" in text:
        raise SystemExit(f"{argv}: exit {proc.returncode}: {text.decode()[-500:]}")
    return dt, usage.ru_utime + usage.ru_stime


def main() -> None:
    launchers = build()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
           and not k.startswith("CIDX_")}
    modes = {"fts": ["query", "json loads", "--fts"], "semantic": ["query", "parse a JSON document"]}
    commands = {("pass", "-"): [PY, "-c", "pass"]}
    for name, launcher in launchers.items():
        for mode, args in modes.items():
            commands[(name, mode)] = [launcher, *args]
    for key, argv in commands.items():  # warm-up, and a check that every variant answers alike
        for _ in range(2):
            timed(argv, REPO if key[0] != "pass" else "/tmp", env)
    outputs = {}
    for key, argv in commands.items():
        if key[0] != "pass":
            outputs.setdefault(key[1], set()).add(subprocess.run(argv, cwd=REPO, env=env, capture_output=True).stdout)
    assert all(len(v) == 1 for v in outputs.values()), "variants print different output"
    samples = {key: [] for key in commands}
    load = [os.getloadavg()]
    rng = random.Random(15)
    for r in range(ROUNDS):
        order = list(commands)
        rng.shuffle(order)
        for key in order:
            samples[key].append(timed(commands[key], REPO if key[0] != "pass" else "/tmp", env))
    load.append(os.getloadavg())
    print(f"rounds {ROUNDS}, load average before {load[0]}, after {load[1]}")
    for which, index in (("wall", 0), ("CPU (user+sys of the client process)", 1)):
        med = {key: statistics.median(x[index] for x in v) * 1e3 for key, v in samples.items()}
        base_pass = med[("pass", "-")]
        print(f"\n=== {which}: medians, ms; python -c pass: {base_pass:.2f} ms")
        for mode in modes:
            b = med[("base", mode)]
            print(f"{mode}: base {b:.2f} ms = {b / base_pass:.2f}x pass")
            for name in launchers:
                if name == "base":
                    continue
                m = med[(name, mode)]
                # paired per round: the difference of the same round's two runs, median over rounds
                diffs = [x[index] - y[index] for x, y in zip(samples[(name, mode)], samples[("base", mode)])]
                print(f"  {name:<45} {m:7.2f} ms  saves {m - b:+6.2f} ms (paired median {statistics.median(diffs) * 1e3:+6.2f})"
                      f"  {m / base_pass:.2f}x pass")
    with open(OUT, "w") as f:
        json.dump({"load": load, "samples": {f"{k[0]}|{k[1]}": v for k, v in samples.items()}}, f)


main()

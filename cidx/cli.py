"""The full command line (click). Thin: parse, call a service, render. Every CidxError becomes one
line on stderr and a non-zero exit; no traceback reaches the user (CIDX_DEBUG=1 shows it)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import traceback
from pathlib import Path

import click

from cidx import __version__
from cidx.config import (PROVIDERS, Config, DaemonConfig, EmbeddingConfig, find_and_load, find_config_upward,
                         write_config)
from cidx.fastpath.errors import CidxError, ConfigError, UsageError
from cidx.fastpath.process_exit import SIGPIPE_EXIT, silence_stdout


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cidx")
def cli() -> None:
    """cidx: semantic, full-text and hybrid code search over one repository."""


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="overwrite an existing config")
@click.option("--daemon/--no-daemon", "daemon", default=False, help="serve queries from a per-repository daemon")
@click.option("--provider", type=click.Choice(PROVIDERS), default="local", help="embedding provider")
@click.option("--model", default=None, help="embedding model name (provider-specific)")
@click.option("--base-url", default=None, help="openai-compatible endpoint, e.g. http://localhost:11434/v1")
def init(directory: Path | None, force: bool, daemon: bool, provider: str, model: str | None,
         base_url: str | None) -> None:
    """Create .code-indexer/config.json in DIRECTORY (default: the current directory)."""
    root = (directory or Path.cwd()).absolute()
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    config = Config(root=root,
                    embedding=EmbeddingConfig(provider=provider, model=model or _default_model(provider),
                                              base_url=base_url),
                    daemon=DaemonConfig(enabled=daemon))
    if config.config_path.exists() and not force:
        raise UsageError(f"{config.config_path} already exists; use `cidx init --force` to overwrite it")
    if provider == "openai" and not base_url:
        raise UsageError("the openai provider needs --base-url (e.g. http://localhost:11434/v1)")
    try:
        path = write_config(config)
    except OSError as exc:
        raise ConfigError(f"{config.config_dir}: cannot write ({exc.strerror}); check the directory's permissions") from None
    click.echo(f"wrote {path}" + (" (daemon enabled)" if daemon else ""))


def _default_model(provider: str) -> str:
    return {"local": "all-MiniLM-L6-v2", "voyage": "voyage-code-3", "openai": "text-embedding-3-small"}[provider]


@cli.command()
@click.option("--clear", is_flag=True, help="rebuild everything from scratch")
@click.option("--fts-only", is_flag=True, help="rebuild only the full-text index")
@click.option("--dry-run", is_flag=True, help="list what would be indexed and what is skipped (writes nothing)")
@click.option("-v", "--verbose", is_flag=True, help="with --dry-run: every file, and why each skipped one is")
def index(clear: bool, fts_only: bool, dry_run: bool, verbose: bool) -> None:
    """Build or update the index (incremental by default)."""
    if clear and fts_only:
        raise UsageError("choose one of --clear and --fts-only")
    if verbose and not dry_run:
        raise UsageError("-v/--verbose goes with --dry-run")
    config = find_and_load()
    if dry_run:  # only reads the tree: runs here even when the daemon is enabled, loads no model
        from cidx.source.discover import scan_repository

        print_dry_run(scan_repository(config), verbose=verbose)
        return

    from cidx.indexer import run_index
    from cidx.progress_ui import IndexProgressBar, print_summary
    from cidx.services import make_embedder

    if config.daemon.enabled and os.environ.get("CIDX_NO_DAEMON") != "1":
        from cidx.client.daemon_index import index_via_daemon

        if index_via_daemon(config, clear=clear, fts_only=fts_only):
            return
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        embedder = make_embedder(config)
        with IndexProgressBar() as bar:
            summary = run_index(config, embedder, clear=clear, fts_only=fts_only, progress=bar.update,
                                should_cancel=cancel.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    if fts_only:
        click.echo(f"rebuilt the full-text index · generation {summary.generation}", err=True)
    else:
        print_summary(summary)


def print_dry_run(scan, *, verbose: bool) -> None:
    size = sum(f.size for f in scan.files)
    if verbose:
        for f in scan.files:
            click.echo(f"index  {f.path}")
        for path, reason in scan.skipped:
            click.echo(f"skip   {path}  ({reason})")
    click.echo(f"would index {len(scan.files)} files ({size / 1e6:.1f} MB); nothing was written")
    counts = scan.skip_counts()
    click.echo(f"would skip {len(scan.skipped)} files" + (":" if counts else ""))
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"  {reason:<12} {count}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def query(args: tuple[str, ...]) -> None:
    """Search: cidx query TEXT [--fts|--hybrid] [options]; `cidx query --help` lists them."""
    from cidx.fastpath.params import parse_query_args
    from cidx.fastpath.render import render
    from cidx.services import run_query_standalone

    params = parse_query_args(list(args))
    config = find_and_load()
    result = run_query_standalone(config, params)
    try:
        render(result, params)
    except BrokenPipeError:  # `cidx query ... | head`: the reader left; not an error (process_exit.py)
        silence_stdout()
        raise click.exceptions.Exit(SIGPIPE_EXIT) from None


@cli.command()
@click.option("--debounce", type=click.FloatRange(0, 3600), default=1.0, show_default=True,
              help="seconds of quiet before re-indexing")
@click.option("--stop", "stop_", is_flag=True, help="stop the daemon's watch")
def watch(debounce: float, stop_: bool) -> None:
    """Re-index changed files automatically (inside the daemon when it is enabled)."""
    from cidx.client import watch_cli

    config = find_and_load()
    if stop_:
        stopped = watch_cli.stop_watch_in_daemon(config)
        click.echo({True: "stopped watching", False: "the daemon was not watching",
                    None: "no daemon is running"}[stopped])
        return
    if config.daemon.enabled and os.environ.get("CIDX_NO_DAEMON") != "1":
        if watch_cli.watch_in_daemon(config, debounce):
            return
    watch_cli.watch_foreground(config, debounce)


@cli.command()
@click.option("--verify", is_flag=True, help="also check that the three stores agree")
def status(verify: bool) -> None:
    """Show the config, the index and (when enabled) the daemon."""
    from cidx.status import collect_status, print_status

    print_status(collect_status(find_and_load(), verify=verify))


@cli.command("mcp")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the repository (default: the one enclosing the current directory)")
def mcp_cmd(repo: Path | None) -> None:
    """Serve search, status and index to coding agents over MCP (stdio); needs `cidx[mcp]`."""
    from cidx.mcp import require_sdk

    require_sdk()
    from cidx.mcp.server import serve

    serve(repo)


@cli.command()
def start() -> None:
    """Start this repository's daemon (queries also start it on demand)."""
    from cidx.client.control import start_daemon

    config = find_and_load()
    if not config.daemon.enabled:
        raise UsageError("the daemon is disabled for this repository; run `cidx config --daemon` first")
    status = start_daemon(config)
    click.echo(f"daemon running (pid {status['pid']}) on {status['socket']}")


@cli.command()
def stop() -> None:
    """Stop this repository's daemon."""
    from cidx.client.control import stop_daemon

    pid = stop_daemon(find_and_load())
    click.echo("no daemon was running" if pid is None else f"daemon stopped (pid {pid})")


@cli.command("config")
@click.option("--daemon/--no-daemon", "daemon", default=None, help="enable or disable the daemon")
@click.option("--daemon-ttl", type=click.FloatRange(min=0.001, max=1e6), default=None,
              help="minutes the daemon keeps indexes in memory after the last query")
@click.option("--auto-shutdown/--no-auto-shutdown", default=None, help="daemon exits when idle and expired")
@click.option("--show", is_flag=True, help="print the configuration")
def config_cmd(daemon: bool | None, daemon_ttl: float | None, auto_shutdown: bool | None, show: bool) -> None:
    """Change daemon settings in config.json (a running daemon is replaced on the next query)."""
    import dataclasses
    import json

    config = find_and_load()
    changes = {k: v for k, v in (("enabled", daemon), ("ttl_minutes", daemon_ttl),
                                 ("auto_shutdown_on_idle", auto_shutdown)) if v is not None}
    if changes:
        config = dataclasses.replace(config, daemon=dataclasses.replace(config.daemon, **changes))
        write_config(config)
        click.echo(f"updated {config.config_path}: " + ", ".join(f"daemon.{k}={v}" for k, v in changes.items()))
        if changes.get("enabled") is False:
            from cidx.client.control import stop_daemon

            if stop_daemon(config) is not None:
                click.echo("stopped the running daemon")
    if show or not changes:
        click.echo(json.dumps(config.to_json_dict(), indent=2))


@cli.command()
@click.option("--force", is_flag=True, help="do not ask")
def clean(force: bool) -> None:
    """Remove the index (the config stays)."""
    from cidx.store.lock import WriterLock

    config = find_and_load()
    if not config.index_dir.exists():
        click.echo("no index to remove")
        return
    if not force and not click.confirm(f"remove the index in {config.index_dir}?", default=False):
        raise UsageError("cancelled; nothing removed")
    with WriterLock(config.index_dir / "writer.lock"):
        shutil.rmtree(config.index_dir)
    click.echo(f"removed {config.index_dir}")


@cli.command()
@click.option("--force", is_flag=True, help="do not ask")
def uninstall(force: bool) -> None:
    """Remove .code-indexer/ entirely (config and index)."""
    path = find_config_upward()
    if path is None:
        raise ConfigError("no .code-indexer/ here or in any parent directory; nothing to remove")
    config_dir = path.parent
    if not force and not click.confirm(f"remove {config_dir} (config and index)?", default=False):
        raise UsageError("cancelled; nothing removed")
    try:
        from cidx.client.control import stop_daemon
        from cidx.config import load_config

        stop_daemon(load_config(path))
    except CidxError:
        pass  # a broken config or a daemon that will not stop must not block removal
    shutil.rmtree(config_dir)
    click.echo(f"removed {config_dir}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn every error into one line and an exit code."""
    try:
        code = cli.main(args=argv, prog_name="cidx", standalone_mode=False)
        return code if type(code) is int else 0  # an int only from click.exceptions.Exit(code)
    except CidxError as exc:
        click.echo(f"cidx: error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("cidx: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"cidx: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("cidx: interrupted", err=True)
        return 130
    except SystemExit as exc:  # argparse --help
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as exc:  # a bug: still one line, with the way to see more
        if os.environ.get("CIDX_DEBUG"):
            traceback.print_exc()
        click.echo(f"cidx: internal error: {exc.__class__.__name__}: {exc} (set CIDX_DEBUG=1 for details)", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

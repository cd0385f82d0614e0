"""The indexing progress bar (files, chunks/s, current file, ETA) and the final summary. Used the same
way for standalone indexing and, fed by RPyC callbacks, for indexing inside the daemon."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cidx.indexer import IndexSummary, ProgressEvent


class IndexProgressBar:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.fields[phase]:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[rate]:>6.1f} chunks/s · {task.fields[chunks]} chunks"),
            TimeRemainingColumn(),
            TextColumn("[dim]{task.fields[current]}"),
            console=self.console,
            transient=True,
        )
        self.task = None

    def __enter__(self) -> "IndexProgressBar":
        return self  # the bar appears with the first event: an early error stays a single line

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.stop()

    def update(self, event: ProgressEvent) -> None:
        if event.phase == "notice":  # one plain line above the bar (e.g. the index is being rebuilt)
            self.console.print(event.message, markup=False, highlight=False, soft_wrap=True)  # one line
            return
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("index", total=None, phase="scan", rate=0.0, chunks=0, current="")
        current = event.current_file if len(event.current_file) <= 48 else "…" + event.current_file[-47:]
        self.progress.update(self.task, total=event.files_total or None, completed=event.files_done,
                             phase=event.phase, rate=event.chunks_per_s, chunks=event.chunks_done, current=current)


def print_summary(summary: IndexSummary, console: Console | None = None) -> None:
    console = console or Console(stderr=True)
    rate = summary.chunks_embedded / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"[green]indexed[/] {summary.files_indexed} files ({summary.chunks_indexed} chunks; "
        f"{summary.chunks_embedded} embedded, {summary.chunks_cached} from cache), "
        f"{summary.files_unchanged} unchanged, {summary.files_removed} removed · "
        f"{summary.files_total} files in the repository · generation {summary.generation} · "
        f"{summary.seconds:.1f}s ({rate:.1f} chunks/s)"
    )

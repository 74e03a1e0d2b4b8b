"""What a row is (a figure, its reference, their ratio) and how rows are printed.

Times are medians over the rounds, peak RSS the largest over the rounds. In compare
mode every row is printed once per tree, and the change of the ratio (the last tree's
against the first's) follows; the summary at the end lists the rows past 5%.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from runner import Results, Sample, Side

CHANGE_LIMIT = 0.05  # what a refactor must stay within, per ratio


@dataclass(frozen=True)
class Row:
    label: str
    ours: str  # key of the tree's samples
    ref: str  # key of the reference's samples
    own_ref: bool = False  # the reference is the same tree's (else the floor's)
    target: str = ""  # shown as written: "1.2x", "RSS < 100 MB", "< 0.3 s"


@dataclass(frozen=True)
class Figure:
    ours: Sequence[Sample]
    ref: Sequence[Sample]

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.ours)

    @property
    def ref_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.ref)

    @property
    def ratio(self) -> float:
        return self.seconds / self.ref_seconds


def seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def megabytes(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def change(before: float, after: float) -> str:
    return f"{after / before - 1:+.1%}"


@dataclass
class Report:
    trees: Sequence[Side]
    changes: list[tuple[str, float]] = field(default_factory=list)  # (label, change)
    label_width: int = 34
    number: int = 0  # of the section being printed (set by bench.py), to name its rows

    @property
    def comparing(self) -> bool:
        return len(self.trees) > 1

    def section(self, title: str) -> None:
        print(f"\n== {self.number}. {title}", flush=True)

    def add_change(self, label: str, before: float, after: float) -> None:
        self.changes.append((f"{self.number}. {label}", after / before - 1))

    def note(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def header(self, ref_name: str = "floor") -> None:
        tree = f" {'tree':<6}" if self.comparing else ""
        print(
            f"   {'':<{self.label_width}}{tree} {'sqlmig':>9} {ref_name:>9} {'ratio':>7} "
            f"{'target':>13} {'peak RSS MB':>13} {'rounds':>6}"
            + ("  change" if self.comparing else ""),
            flush=True,
        )

    def figure(self, row: Row, results: Results, tree: Side, floor: Side) -> Figure:
        ref_side = tree if row.own_ref else floor
        figure = Figure(results.of(tree, row.ours), results.of(ref_side, row.ref))
        if not figure.ours or not figure.ref:
            raise RuntimeError(f"no samples for row {row.label!r} ({tree.name})")
        return figure

    def rows(self, rows: Sequence[Row], results: Results, floor: Side) -> None:
        for row in rows:
            figures = [self.figure(row, results, tree, floor) for tree in self.trees]
            for i, (tree, fig) in enumerate(zip(self.trees, figures, strict=True)):
                label = row.label if i == 0 else ""
                rss = max(s.rss_kb for s in fig.ours)
                ref_rss = max(s.rss_kb for s in fig.ref)
                line = (
                    f"   {label:<{self.label_width}}"
                    + (f" {tree.name:<6}" if self.comparing else "")
                    + f" {seconds(fig.seconds):>9} {seconds(fig.ref_seconds):>9} "
                    f"{fig.ratio:>6.2f}x {row.target:>13} "
                    f"{megabytes(rss) + ' / ' + megabytes(ref_rss):>13} {len(fig.ours):>6}"
                )
                if self.comparing and i == len(figures) - 1:
                    line += f"  {change(figures[0].ratio, fig.ratio):>6}"
                    self.add_change(row.label, figures[0].ratio, fig.ratio)
                print(line, flush=True)

    def table(self, columns: Sequence[str], cells: dict[str, list[str]]) -> None:
        """Preformatted cells: each row label maps to one cell per column."""
        print(f"   {'':<{self.label_width}}" + "".join(f" {c:>9}" for c in columns))
        for label, values in cells.items():
            print(f"   {label:<{self.label_width}}" + "".join(f" {v:>9}" for v in values))

    def summary(self) -> None:
        if not self.comparing or not self.changes:
            return
        worst = max(self.changes, key=lambda c: abs(c[1]))
        beyond = [c for c in self.changes if abs(c[1]) > CHANGE_LIMIT]
        first, last = self.trees[0].name, self.trees[-1].name
        print(f"\n== Change of each ratio, {last} against {first}")
        self.note(f"{len(self.changes)} ratios; largest change {worst[1]:+.1%} ({worst[0]})")
        if beyond:
            self.note(f"beyond {CHANGE_LIMIT:.0%}:")
            for label, value in beyond:
                self.note(f"  {value:+6.1%}  {label}")
        else:
            self.note(f"every ratio within {CHANGE_LIMIT:.0%}")

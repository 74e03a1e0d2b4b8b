"""What a row is (a figure, its reference, their ratio) and how rows are printed.

Times are medians over the rounds, peak RSS the largest over the rounds. A ratio is the
median of the rounds' own ratios: each round's figure over its reference's from the
same round, taken seconds apart, so that load which comes and goes between rounds
cancels out. The ± beside it says how far the middle half of the rounds' ratios lies
from that median: the noise of this run. In compare mode every row is printed once
per tree, then the change of the ratio (the last tree's against the first's), again
per round and with its ±; the summary names what moved more than 5%, and what was too
noisy in this run to tell.
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
class Estimate:
    """A median of per-round factors, and the spread of the middle half around it."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float | None:
        """Relative: the farther quartile's distance from the median, over the median."""
        if len(self.values) < 3:
            return None
        q1, _, q3 = statistics.quantiles(self.values, n=4, method="inclusive")
        return max(self.median - q1, q3 - self.median) / self.median

    @property
    def plus_minus(self) -> str:
        return "" if self.spread is None else f"±{self.spread:.0%}"


@dataclass(frozen=True)
class Figure:
    ours: dict[int, Sample]  # by round
    ref: dict[int, Sample]

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.ours.values())

    @property
    def ref_seconds(self) -> float:
        return statistics.median(s.seconds for s in self.ref.values())

    def ratio_in(self, round_: int) -> float:
        return self.ours[round_].seconds / self.ref[round_].seconds

    @property
    def rounds(self) -> list[int]:
        return sorted(self.ours.keys() & self.ref.keys())

    @property
    def ratio(self) -> Estimate:
        return Estimate(tuple(self.ratio_in(r) for r in self.rounds))


def change(before: Figure, after: Figure) -> Estimate:
    """The factor by which the ratio changed, round by round."""
    rounds = sorted(set(before.rounds) & set(after.rounds))
    return Estimate(tuple(after.ratio_in(r) / before.ratio_in(r) for r in rounds))


def change_text(estimate: Estimate) -> str:
    return f"{estimate.median - 1:+.1%} {estimate.plus_minus}".rstrip()


def seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def megabytes(kb: int) -> str:
    return f"{kb / 1024:.0f}"


@dataclass
class Report:
    trees: Sequence[Side]
    changes: list[tuple[str, Estimate]] = field(default_factory=list)
    label_width: int = 34
    number: int = 0  # of the section being printed (set by bench.py), to name its rows

    @property
    def comparing(self) -> bool:
        return len(self.trees) > 1

    def section(self, title: str) -> None:
        print(f"\n== {self.number}. {title}", flush=True)

    def note(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def add_change(self, label: str, estimate: Estimate) -> None:
        self.changes.append((f"{self.number}. {label}", estimate))

    def header(self, ref_name: str = "floor") -> None:
        tree = f" {'tree':<6}" if self.comparing else ""
        print(
            f"   {'':<{self.label_width}}{tree} {'sqlmig':>9} {ref_name:>9} {'ratio':>7} "
            f"{'±':>4} {'target':>13} {'peak RSS MB':>13} {'rounds':>6}"
            + ("  change" if self.comparing else ""),
            flush=True,
        )

    def figure(self, row: Row, results: Results, tree: Side, floor: Side) -> Figure:
        ref_side = tree if row.own_ref else floor
        figure = Figure(results.of(tree, row.ours), results.of(ref_side, row.ref))
        if not figure.rounds:
            raise RuntimeError(f"no samples for row {row.label!r} ({tree.name})")
        return figure

    def rows(self, rows: Sequence[Row], results: Results, floor: Side) -> None:
        for row in rows:
            figures = [self.figure(row, results, tree, floor) for tree in self.trees]
            for i, (tree, fig) in enumerate(zip(self.trees, figures, strict=True)):
                rss = max(s.rss_kb for s in fig.ours.values())
                ref_rss = max(s.rss_kb for s in fig.ref.values())
                line = (
                    f"   {row.label if i == 0 else '':<{self.label_width}}"
                    + (f" {tree.name:<6}" if self.comparing else "")
                    + f" {seconds(fig.seconds):>9} {seconds(fig.ref_seconds):>9} "
                    f"{fig.ratio.median:>6.2f}x {fig.ratio.plus_minus:>4} {row.target:>13} "
                    f"{megabytes(rss) + ' / ' + megabytes(ref_rss):>13} {len(fig.rounds):>6}"
                )
                if self.comparing and i == len(figures) - 1:
                    moved = change(figures[0], fig)
                    line += f"  {change_text(moved)}"
                    self.add_change(row.label, moved)
                print(line, flush=True)

    def table(self, columns: Sequence[str], cells: dict[str, list[str]]) -> None:
        """Preformatted cells: each row label maps to one cell per column."""
        print(f"   {'':<{self.label_width}}" + "".join(f" {c:>12}" for c in columns))
        for label, values in cells.items():
            print(f"   {label:<{self.label_width}}" + "".join(f" {v:>12}" for v in values))

    def summary(self) -> None:
        if not self.comparing or not self.changes:
            return
        first, last = self.trees[0].name, self.trees[-1].name
        print(f"\n== Change of each ratio, {last} against {first} (median of the rounds' changes)")
        beyond = [(label, e) for label, e in self.changes if abs(e.median - 1) > CHANGE_LIMIT]
        noisy = [label for label, e in self.changes if (e.spread or 0) > CHANGE_LIMIT]
        worst = max(self.changes, key=lambda c: abs(c[1].median - 1))
        self.note(
            f"{len(self.changes)} ratios; largest change {change_text(worst[1])} ({worst[0]})"
        )
        if beyond:
            self.note(f"beyond {CHANGE_LIMIT:.0%}:")
            for label, estimate in beyond:
                self.note(f"  {change_text(estimate):>13}  {label}")
        else:
            self.note(f"every ratio within {CHANGE_LIMIT:.0%}")
        if noisy:
            self.note(
                f"{len(noisy)} of them too noisy in this run to show {CHANGE_LIMIT:.0%} "
                f"(± above {CHANGE_LIMIT:.0%}): run again on a quieter machine, or with more "
                "SQLMIG_BENCH_ROUNDS"
            )

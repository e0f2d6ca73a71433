"""Which batches `datawheel drift` compares the newest ones with (`drift.reference`).

- `champion`: the rows the champion was trained on; no batch is chosen here, the monitor
  reads the champion's curated training set.
- `recent`: the last `drift.reference_batches` accepted batches before the first judged
  one, in path order (for period-named files, time order); 0 = every earlier batch.
- `season`: the batches whose period lies inside the judged batch's period shifted back by
  1..`drift.season_years` whole years: the same day of the year (29 February becomes the
  28th), the ISO week with the same number (week 53 becomes 52 in a year without one), the
  same month, quarter or year. Seasonal data (monthly weather, holiday sales) then compares
  like with like instead of "shifting" every month. With no such batch (the first year) or
  file names that carry no period, the choice falls back to `recent` and says so in a note.

Pure: file names in, file names out. Periods come from the file stems (validate's
`batch_period`); the caller passes only accepted batches (not failed, not duplicates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from datawheel.config.params import Drift, ReferenceKind
from datawheel.pipeline.validate import batch_period

Period = tuple[dt.datetime, dt.datetime]
PERIOD_NAMES = "YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn or YYYY"


def choose_reference_batches(
    batches: Sequence[str], judged: Sequence[str], reference: ReferenceKind, settings: Drift
) -> tuple[list[str], str | None]:
    """The reference batches for the judged ones, in `batches` order, and a note when the
    choice is not the one asked for (a season falling back to recent batches)."""
    if reference == "champion":
        return [], None
    if reference == "recent":
        return recent_batches(batches, judged, settings.reference_batches), None
    chosen, missing = season_batches(batches, judged, settings.season_years)
    years = _years(settings.season_years)
    if chosen:
        note = None
        if missing:
            note = (
                f"no batch of the same period {years} earlier than {', '.join(missing)}; "
                "the reference holds the seasons of the other judged batches"
            )
        return chosen, note
    unnamed = [b for b in judged if batch_period(b) is None]
    fallback = recent_batches(batches, judged, settings.reference_batches)
    count = "every" if settings.reference_batches == 0 else f"the {settings.reference_batches}"
    why = (
        f"{', '.join(unnamed)} not named by a period ({PERIOD_NAMES})"
        if unnamed
        else f"no batch of the same period {years} earlier than {', '.join(judged)}"
    )
    return fallback, (
        f"drift.reference season: {why}; compared with {count} accepted batch(es) before "
        "instead (reference recent)"
    )


def recent_batches(batches: Sequence[str], judged: Sequence[str], count: int) -> list[str]:
    """The last `count` batches before the first judged one (0 = all of them)."""
    judged_set = set(judged)
    positions = [i for i, b in enumerate(batches) if b in judged_set]
    before = [b for b in batches[: min(positions, default=len(batches))] if b not in judged_set]
    return before if count == 0 else before[-count:]


def season_batches(
    batches: Sequence[str], judged: Sequence[str], years: int
) -> tuple[list[str], list[str]]:
    """Batches of the judged batches' periods 1..`years` years earlier, and the judged
    batches (named by a period) none was found for."""
    judged_set = set(judged)
    periods = {b: batch_period(b) for b in batches if b not in judged_set}
    chosen: set[str] = set()
    missing = []
    for name in judged:
        period = batch_period(name)
        if period is None:
            continue
        targets = [shift_period(period, back) for back in range(1, years + 1)]
        found = {
            b
            for b, p in periods.items()
            if p is not None and any(_within(p, target) for target in targets)
        }
        if not found:
            missing.append(name)
        chosen |= found
    return [b for b in batches if b in chosen], missing


def shift_period(period: Period, years: int) -> Period:
    """The same calendar period `years` years earlier (see the module docstring)."""
    start, end = period
    first, after = start.date(), end.date()
    days = (after - first).days
    if days == 1:
        shifted = _same_day(first, first.year - years)
        new_end = shifted + dt.timedelta(days=1)
    elif days == 7 and first.isoweekday() == 1:
        iso = first.isocalendar()
        try:
            shifted = dt.date.fromisocalendar(iso.year - years, iso.week, 1)
        except ValueError:  # week 53 in a year of 52 weeks
            shifted = dt.date.fromisocalendar(iso.year - years, 52, 1)
        new_end = shifted + dt.timedelta(weeks=1)
    else:  # a month, a quarter or a year: its first day and its length in months stay
        months = (after.year - first.year) * 12 + after.month - first.month
        shifted = first.replace(year=first.year - years)
        index = shifted.year * 12 + shifted.month - 1 + months
        new_end = dt.date(index // 12, index % 12 + 1, 1)
    midnight = dt.time(tzinfo=start.tzinfo)
    return dt.datetime.combine(shifted, midnight), dt.datetime.combine(new_end, midnight)


def _same_day(day: dt.date, year: int) -> dt.date:
    """The same month and day in another year; 29 February is the 28th in a common year."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def _within(inner: Period, outer: Period) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _years(years: int) -> str:
    return "1 year" if years == 1 else f"1 to {years} years"

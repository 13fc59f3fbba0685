"""`podcast stats targets`: progress, pace and projection, with today fixed.

The show below had 2 downloads a day for three weeks, then 6 a day for the last week of
November; on 1 December (today) 4 downloads have come in so far.  So:
value 88, last 7 days 6.0 a day, last 28 days 3.0 a day.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from podcast.model import Download, Target
from podcast.stats.targets import (
    cumulative,
    progress,
    projection_path,
    to_json,
    to_table,
    verdict,
)

TODAY = date(2026, 12, 1)


def dl(day: date, listener: str, slug: str = "001-sonia") -> Download:
    return Download(day=day, slug=slug, listener=listener, app="Apple Podcasts", device="iOS")


def november() -> list[Download]:
    downloads = []
    day = date(2026, 11, 3)
    while day <= TODAY:
        per_day = 2 if day <= date(2026, 11, 23) else 6 if day < TODAY else 4
        downloads += [dl(day, f"{day}-{i}") for i in range(per_day)]
        day += timedelta(days=1)
    return downloads


def test_value_percent_remaining_and_pace_needed() -> None:
    p = progress(Target("Saison 1", "downloads", 400, date(2026, 12, 31)), november(), TODAY)
    assert p.value == 88  # today's partial count included
    assert (p.percent, p.remaining, p.days_left) == (22.0, 312, 30)
    assert p.pace_needed == 312 / 30


def test_recent_pace_uses_complete_days_before_today() -> None:
    p = progress(Target("Saison 1", "downloads", 400, date(2026, 12, 31)), november(), TODAY)
    assert p.pace_7d == 6.0  # 24-30 November: 6 a day; today's 4 are not a full day
    assert p.pace_28d == 3.0  # 3-30 November: 84 downloads in 28 days


def test_projection_at_the_28_day_pace_and_on_track_flag() -> None:
    behind = progress(Target("Ambitious", "downloads", 400, date(2026, 12, 31)), november(),
                      TODAY)
    assert behind.projected == TODAY + timedelta(days=104)  # 312 left at 3 a day
    assert behind.projected == date(2027, 3, 15)
    assert not behind.on_track

    ahead = progress(Target("Modest", "downloads", 200, date(2027, 6, 30)), november(), TODAY)
    assert ahead.projected == date(2027, 1, 8)  # 112 left at 3 a day: 37.3 -> 38 days
    assert ahead.on_track


def test_a_goal_already_met_says_when() -> None:
    p = progress(Target("First 50", "downloads", 50, date(2027, 1, 1)), november(), TODAY)
    # 42 by 23 November, then 6 a day: 48 on the 24th, 54 on the 25th.
    assert (p.projected, p.reached_on, p.remaining, p.on_track) == (
        "reached", date(2026, 11, 25), 0, True)
    assert p.percent == 176.0


def test_no_downloads_for_28_days_projects_never() -> None:
    old = [dl(date(2026, 10, 1), "a"), dl(date(2026, 11, 2), "b")]
    p = progress(Target("Stalled", "downloads", 10, date(2027, 1, 1)), old, TODAY)
    assert (p.value, p.pace_28d, p.projected, p.on_track) == (2, 0.0, "never", False)


def test_a_goal_centuries_away_at_this_pace_is_never() -> None:
    # 88 downloads in a month against a goal of ten million: 9,000 years at 3 a day.
    p = progress(Target("Dream", "downloads", 10_000_000, date(2027, 1, 1)), november(), TODAY)
    assert (p.projected, p.on_track) == ("never", False)


def test_a_passed_deadline_needs_no_pace_and_is_not_on_track() -> None:
    p = progress(Target("Too late", "downloads", 1000, date(2026, 11, 15)), november(), TODAY)
    assert (p.days_left, p.pace_needed, p.on_track) == (0, None, False)


def test_listeners_count_each_person_once_a_month_from_the_day_first_seen() -> None:
    downloads = [dl(date(2026, 11, 28), "alice"), dl(date(2026, 11, 28), "bob"),
                 dl(date(2026, 11, 29), "alice", "002-duo"), dl(date(2026, 11, 30), "carol"),
                 dl(date(2026, 11, 30), "alice")]
    target = Target("Reach", "listeners", 10, date(2026, 12, 31))
    # A month's listeners: the running total starts again on the 1st.
    assert cumulative(downloads, "listeners", date(2026, 11, 27), date(2026, 12, 1)) == [
        (date(2026, 11, 27), 0), (date(2026, 11, 28), 2), (date(2026, 11, 29), 2),
        (date(2026, 11, 30), 3), (date(2026, 12, 1), 0)]
    p = progress(target, downloads, TODAY)
    assert (p.value, p.value_month, p.now, p.remaining) == (3, "2026-11", 0, 7)
    assert p.by_month == {"2026-11": 3}
    assert p.pace_7d == 3 / 7


# Listener hashes change every month: "alice" in December is another hash than in November.
TWO_MONTHS = ([dl(date(2026, 11, 10), f"nov-{i}") for i in range(6)]
              + [dl(date(2026, 12, 2), f"dec-{i}") for i in range(5)]
              + [dl(date(2026, 12, 9), f"dec-{i}") for i in range(5, 8)])


def test_a_listeners_target_is_reached_by_one_month_never_by_a_sum_of_months() -> None:
    target = Target("Auditeurs", "listeners", 10, date(2027, 3, 31))
    p = progress(target, TWO_MONTHS, date(2026, 12, 15))
    # 6 in November + 8 in December is 14 hashes, not 14 listeners: the goal of 10 a
    # month is not met.
    assert (p.value, p.value_month, p.now) == (8, "2026-12", 8)
    assert p.by_month == {"2026-11": 6, "2026-12": 8}
    assert (p.reached_on, p.remaining, p.percent) == (None, 2, 80.0)
    assert p.projected != "reached"
    met = progress(Target("Six", "listeners", 6, date(2027, 3, 31)), TWO_MONTHS,
                   date(2026, 12, 15))
    assert (met.projected, met.reached_on, met.on_track) == ("reached", date(2026, 11, 10),
                                                              True)


def test_a_listeners_projection_continues_the_month_then_restarts_at_zero() -> None:
    # 8 listeners in the 14 complete days of December before the 15th: pace 8/28 a day
    # over 28 days (November's 6 came on the 10th, before the window).
    target = Target("Auditeurs", "listeners", 10, date(2027, 3, 31))
    p = progress(target, TWO_MONTHS, date(2026, 12, 15))
    assert p.pace_28d == 8 / 28
    # 2 more at 2/7 a day: 7 days, the 22nd, still in December.
    assert p.projected == date(2026, 12, 22) and p.on_track
    # The chart draws exactly that: from (today, 8) to (the 22nd, 10).
    assert projection_path(p, date(2027, 3, 31)) == [[(date(2026, 12, 15), 8.0),
                                                      (date(2026, 12, 22), 10.0)]]
    # A goal no month reaches at that pace (31 days x 2/7 < 20) is never reached.
    far = progress(Target("Far", "listeners", 20, date(2027, 3, 31)), TWO_MONTHS,
                   date(2026, 12, 15))
    assert far.projected == "never" and not far.on_track
    # Needed: the lowest pace for a month ending by the deadline: a whole month (31 days).
    assert far.pace_needed == 20 / 31
    late = progress(Target("Late", "listeners", 13, date(2027, 3, 31)), TWO_MONTHS,
                    date(2026, 12, 15))
    # 5 more at 2/7 a day take 18 days: past 31 December, when the count restarts; a
    # whole month from 0 would need 46 days: no month gets there.
    assert late.projected == "never"
    path = projection_path(late, date(2027, 1, 31))
    assert [seg[0][0] for seg in path] == [date(2026, 12, 15), date(2027, 1, 1)]
    assert path[1][0][1] == 8 / 28  # January starts again from its first day's listeners


def test_a_target_on_some_episodes_counts_only_those() -> None:
    downloads = november() + [dl(date(2026, 11, 30), f"duo-{i}", "002-duo") for i in range(5)]
    duo = progress(Target("Duo", "downloads", 10, date(2026, 12, 31), ("002-duo",)),
                   downloads, TODAY)
    everything = progress(Target("All", "downloads", 10_000, date(2026, 12, 31)), downloads,
                          TODAY)
    assert (duo.value, everything.value) == (5, 93)


def test_cumulative_starts_from_what_came_before() -> None:
    series = cumulative(november(), "downloads", date(2026, 11, 29), date(2026, 12, 1))
    assert series == [(date(2026, 11, 29), 78), (date(2026, 11, 30), 84),
                      (date(2026, 12, 1), 88)]


def test_json_output() -> None:
    target = Target("Saison 1", "downloads", 400, date(2026, 12, 31))
    data = json.loads(to_json([progress(target, november(), TODAY)], TODAY))
    assert data == {"today": "2026-12-01", "targets": [{
        "name": "Saison 1", "metric": "downloads", "goal": 400, "by": "2026-12-31",
        "episodes": "all", "value": 88, "percent": 22.0, "remaining": 312, "days_left": 30,
        "pace_needed": 10.4, "pace_7d": 6.0, "pace_28d": 3.0, "projected": "2027-03-15",
        "reached_on": None, "on_track": False,
        "verdict": "Behind: 6.0/day over the last 7 days, 10.4/day needed to reach 400 "
                   "downloads by 2026-12-31; at the 28-day pace (3.0/day), reached on "
                   "2027-03-15."}]}


def test_table_output_reads_at_a_glance() -> None:
    progresses = [progress(Target("Saison 1", "downloads", 400, date(2026, 12, 31)),
                           november(), TODAY),
                  progress(Target("First 50", "downloads", 50, date(2027, 1, 1)),
                           november(), TODAY)]
    lines = to_table(progresses, TODAY).splitlines()
    assert lines[0] == "Targets on 2026-12-01"
    saison = next(line for line in lines if line.startswith("Saison 1"))
    assert saison.split() == ["Saison", "1", "downloads", "400", "88", "22.0%", "312",
                              "2026-12-31", "10.4", "6.0", "3.0", "2027-03-15", "NO"]
    first = next(line for line in lines if line.startswith("First 50"))
    assert "reached 2026-11-25" in first and first.endswith("yes")


def test_no_targets_explains_how_to_set_one() -> None:
    text = to_table([], TODAY)
    assert "none set" in text and "targets:" in text


def test_the_verdict_explains_itself_in_one_sentence() -> None:
    def say(target: Target) -> str:
        return verdict(progress(target, november(), TODAY))

    assert say(Target("Modest", "downloads", 200, date(2027, 6, 30))) == (
        "On track: 6.0/day over the last 7 days, 0.5/day needed to reach 200 downloads by "
        "2027-06-30; at the 28-day pace (3.0/day), reached on 2027-01-08.")
    assert say(Target("First 50", "downloads", 50, date(2027, 1, 1))) == (
        "Reached on 2026-11-25: 50 downloads, due by 2027-01-01.")
    assert say(Target("Too late", "downloads", 1000, date(2026, 11, 15))).startswith(
        "Missed: the deadline 2026-11-15 has passed, 88 of 1,000 downloads; at the 28-day")
    listeners = say(Target("Reach", "listeners", 100, date(2027, 3, 31)))
    assert listeners.startswith("Behind: ") and "100 listeners in a month" in listeners
    assert "(2026-12 so far: 4)" in listeners


def test_the_chart_path_ends_where_the_table_projects() -> None:
    p = progress(Target("Saison 1", "downloads", 400, date(2026, 12, 31)), november(), TODAY)
    # 312 left at 3 a day: the line reaches 400 (at least) on 2027-03-15, past the deadline.
    ((start, end),) = projection_path(p, date(2027, 6, 30))
    assert start == (TODAY, 88.0) and end[0] == p.projected == date(2027, 3, 15)
    assert end[1] >= 400 > 88 + 3.0 * ((p.projected - TODAY).days - 1)
    # A chart ending earlier cuts the line at its edge.
    ((_, edge),) = projection_path(p, date(2027, 1, 31))
    assert edge == (date(2027, 1, 31), 88 + 3.0 * 61)

"""Point-in-time frames: raw tables joined to the snapshot spine, future masked.

Each frame pairs every (account, as-of date) of the spine with the raw rows
that were known before that date, and derives the columns the definitions in
``features/`` aggregate. This module is the only place that decides what
"known before T" means (docs/data-contract.md, "Point-in-time rule"):

- events, tickets, NPS responses: stamped strictly before T;
- a ticket resolved at or after T is open at T, its CSAT unknown;
- a milestone completed at or after T is not completed at T;
- a subscription that started on or before T is known; its end date is known
  only if it is on or before T, otherwise it reads as running.

Events are rolled up once per (account, stretch of days) for all usage features
and all snapshots, and once per (account, stretch, user) for the distinct-user
counts; no feature re-scans the events per snapshot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import ibis

from features.base import flag
from features.revenue import MONTH
from features.usage import YEAR
from pipeline.engine.catalog import Vocabulary, usage_window_offsets, user_window_offsets
from pipeline.config import Config
from pipeline.engine.stretches import calendar_holidays, first_day, stretches, year_ago_stretches, young_tenures


def days_between(later, earlier):
    """Whole days from date ``earlier`` to date ``later``."""
    return later.delta(earlier, unit="day")


class Frames:
    """Builds the frames for one spine on one source's engine.

    Parameters
    ----------
    source : pipeline.io.sources.Source
    spine : ibis.Table
        Columns ``account_id`` (string) and ``as_of`` (date).
    dates : list of date
        The as-of dates of the spine.
    cfg : pipeline.config.Config
    vocab : pipeline.engine.catalog.Vocabulary
    """

    def __init__(self, source, spine, dates, cfg: Config, vocab: Vocabulary):
        self.source = source
        self.spine = spine.mutate(as_of_ts=spine.as_of.cast("timestamp"))
        self.dates = sorted(set(dates))
        self.cfg = cfg
        self.vocab = vocab
        self._stretch_cache: dict = {}
        self._kept: list = []  # materialised tables later ones read (see _keep)

    def _temp(self, expr) -> ibis.Table:
        """Materialise ``expr`` once on the source's engine (see :meth:`pipeline.io.sources.Source.materialise`)."""
        return self._keep(self.source.materialise(expr))

    def _reused(self, expr) -> ibis.Table:
        """``expr`` as the source hands a small table read several times (:meth:`pipeline.io.sources.Source.reused`)."""
        return self._keep(self.source.reused(expr))

    def _keep(self, table: ibis.Table) -> ibis.Table:
        """Keep ``table`` alive as long as the frames (Spark drops a cached view with its expression)."""
        self._kept.append(table)
        return table

    def _events(self) -> ibis.Table:
        """The usage events any snapshot can see: from the first window's start (with a calendar, past the
        holidays: :func:`first_day`) to the last as-of date."""
        ev = self.source.table("usage_events")
        first = first_day(self.dates, usage_window_offsets(self.cfg), calendar_holidays(self.cfg))
        seen = (ev.occurred_at >= ibis.literal(first).cast("timestamp")) & (
            ev.occurred_at < ibis.literal(self.dates[-1]).cast("timestamp")
        )
        return ev.filter(seen).mutate(day=ev.occurred_at.date())

    def _stretch_tables(self, offsets: list[int]):
        """Day-to-stretch map and the (as_of, stretch, d) spans for ``offsets``, as engine tables."""
        key = tuple(offsets)
        if key not in self._stretch_cache:
            holidays = calendar_holidays(self.cfg)
            days, spans = stretches(self.dates, offsets, holidays)
            schema = {"as_of": "date", "stretch": "int64", "d": "int64"}
            if holidays:
                schema |= {"nd": "int64", "hol": "boolean"}
            self._stretch_cache[key] = (
                ibis.memtable(days, schema={"day": "date", "stretch": "int64"}),
                ibis.memtable(spans, schema=schema),
            )
        return self._stretch_cache[key]

    def _per_snapshot(self, rolled: ibis.Table, offsets: list[int]) -> ibis.Table:
        """Pair every spine row with the rolled-up stretches inside its longest window."""
        _, span = self._stretch_tables(offsets)
        windows = self.spine.join(span, "as_of")
        return windows.left_join(
            rolled, [windows.account_id == rolled.account_id, windows.stretch == rolled.stretch]
        )

    def usage(self) -> ibis.Table:
        """One row per (account, as-of, stretch of days): ``d`` = days back to the stretch's
        start, ``n`` = events, ``t_<type>`` = events per type, ``days`` = active days and
        ``last_d`` = days since the stretch's last active day; with a calendar (``features.calendar``)
        also ``nd`` = days back to the stretch's start that are not holidays, ``hol`` = whether the
        stretch is holidays (see :func:`stretches`) and ``last_nd`` = the non-holiday days after the stretch's
        last active day and before T, plus 1 (``last_d`` when no holiday lies in between; null for a holiday
        stretch: activity on holidays is left out like their events).

        The days before each as-of date are cut into stretches at every window
        boundary any usage feature reads (T - k for every window k, every week
        of the slope, both trend periods), so every window is a whole number of
        stretches: "within k days" is exactly ``d <= k``. Events are rolled up
        once per (account, day) and then per (account, stretch), for all
        snapshots at once.
        """
        ev = self._events()
        sums = {
            f"t_{col}": ibis.ifelse(ev.event_type == raw, ev.quantity, 0.0).sum()
            for raw, col in self.vocab.event_types.items()
        }
        daily = ev.group_by(["account_id", "day"]).aggregate(n=ev.quantity.sum(), **sums)
        offsets = usage_window_offsets(self.cfg)
        day_map, _ = self._stretch_tables(offsets)
        tagged = daily.join(day_map, "day")
        types = [c for c in daily.columns if c.startswith("t_")]
        rolled = self._temp(
            tagged.group_by(["account_id", "stretch"]).aggregate(
                n=tagged.n.sum(),
                days=flag(tagged.n > 0).sum(),
                last_day=tagged.day.max(where=tagged.n > 0),
                **{c: tagged[c].sum() for c in types},
            )
        )
        joined = self._per_snapshot(rolled, offsets)
        joined = joined.mutate(last_d=days_between(joined.as_of, joined.last_day))
        if "nd" in joined.columns:  # a stretch is all holidays or none: count the days after the active one
            after = joined.nd - joined.d + joined.last_d
            joined = joined.mutate(last_nd=ibis.ifelse(joined.hol, ibis.null("int64"), after))
        return joined

    def users(self) -> ibis.Table:
        """One row per (account, as-of, user) with ``d`` = days back to the start of the
        user's latest active stretch before T and ``d_prior`` = the same before T - ``trend_days``;
        with a calendar also ``nd`` = the non-holiday days back to the start of the user's latest active
        stretch that is not holidays (null when the user was active on holidays only) and ``nd_prior`` = the same
        among the stretches more than ``trend_days`` non-holiday days back.

        Distinct users are not additive over days, so each user is rolled up once
        per stretch (see :meth:`usage`); "active within k days" is then exactly
        "latest stretch within k days", and counting users is a plain sum.
        """
        trend = self.cfg.features.usage.trend_days
        offsets = user_window_offsets(self.cfg)
        ev = self._events()
        day_map, _ = self._stretch_tables(offsets)
        tagged = ev.filter(ev.user_id.notnull()).join(day_map, "day")
        rolled = self._temp(tagged.select("account_id", "stretch", "user_id").distinct())
        joined = self._per_snapshot(rolled, offsets)
        seen = joined.filter(joined.user_id.notnull())
        calendar = {}
        if "nd" in seen.columns:  # the same in non-holiday days, the holiday stretches left out
            worked = ~seen.hol
            calendar = {"nd": seen.nd.min(where=worked), "nd_prior": seen.nd.min(where=worked & (seen.nd > trend))}
        latest = seen.group_by(["account_id", "as_of", "user_id"]).aggregate(
            d=seen.d.min(), d_prior=seen.d.min(where=seen.d > trend), **calendar
        )
        return self.spine.select("account_id", "as_of").left_join(latest, ["account_id", "as_of"]).select(
            "account_id", "as_of", "user_id", "d", "d_prior", *calendar
        )

    def year_ago(self) -> ibis.Table:
        """One row per (account, as-of, stretch) of the short windows before T and of the same days a year earlier:
        ``d`` = days back to the stretch's start (over :data:`YEAR` for the year-ago ones), ``n`` = events, and
        ``tenure`` = days since the account was created.

        Only the stretches inside ``[T - w, T)`` and ``[T - YEAR - w, T - YEAR)`` (``w`` the longest short
        window) are listed, so a year of history costs two short windows, not a year of stretches.
        """
        windows = self.cfg.features.usage.windows
        short = [w for w in windows if w < max(windows)]
        ev = self.source.table("usage_events")
        first = self.dates[0] - timedelta(days=YEAR + max(short))
        ev = ev.filter((ev.occurred_at >= ibis.literal(first).cast("timestamp"))
                       & (ev.occurred_at < ibis.literal(self.dates[-1]).cast("timestamp")))
        days, spans = year_ago_stretches(self.dates, short)
        day_map = ibis.memtable(days, schema={"day": "date", "stretch": "int64"})
        span = ibis.memtable(spans, schema={"as_of": "date", "stretch": "int64", "d": "int64"})
        tagged = ev.mutate(day=ev.occurred_at.date()).join(day_map, "day")
        rolled = self._temp(tagged.group_by(["account_id", "stretch"]).aggregate(n=tagged.quantity.sum()))
        a = self.source.table("accounts").select(a_id="account_id", created=lambda t: t.created_at.date())
        spine = self.spine.join(a, self.spine.account_id == a.a_id)
        windows_ = spine.join(span, "as_of")
        j = windows_.left_join(rolled, [windows_.account_id == rolled.account_id, windows_.stretch == rolled.stretch])
        return j.mutate(tenure=days_between(j.as_of, j.created))

    def tickets(self) -> ibis.Table:
        s, t = self.spine, self.source.table("support_tickets")
        j = s.left_join(t, [s.account_id == t.account_id, t.created_at < s.as_of_ts])
        is_open = j.resolved_at.isnull() | (j.resolved_at >= j.as_of_ts)
        urgent = j.priority.lower().isin([p.lower() for p in self.cfg.features.tickets.urgent_priorities])
        # microseconds apart, on every engine (Spark's unix_timestamp drops the fractions of a second)
        seconds = j.resolved_at.delta(j.created_at, unit="microsecond").cast("float64") / 1e6
        return j.mutate(
            one=ibis.ifelse(j.ticket_id.isnull(), ibis.null("int64"), 1),
            d=days_between(j.as_of, j.created_at.date()),
            open=is_open,
            urgent=urgent,
            hours=ibis.ifelse(is_open, ibis.null("float64"), seconds / 3600.0),
            resolved_d=ibis.ifelse(is_open, ibis.null("int64"), days_between(j.as_of, j.resolved_at.date())),
            csat=ibis.ifelse(is_open, ibis.null("float64"), j.csat),
        )

    def milestones(self) -> ibis.Table:
        s, m = self.spine, self.source.table("milestones")
        a = self.source.table("accounts").select("account_id", created=lambda t: t.created_at.date())
        m = m.join(a, "account_id")
        j = s.left_join(m, s.account_id == m.account_id)
        done = j.completed_at.notnull() & (j.completed_at < j.as_of_ts)
        due_d = days_between(j.as_of, j.due_date)
        late_if_done = days_between(j.completed_at.date(), j.due_date)
        values = self.value_milestones()
        return j.mutate(
            done=done,
            due_d=due_d,
            late=ibis.ifelse(done, late_if_done, ibis.ifelse(due_d > 0, due_d, ibis.null("int64"))),
            value=j.milestone.isin(values) if values else ibis.literal(True),
            ttv=ibis.ifelse(done, days_between(j.completed_at.date(), j.created), ibis.null("int64")),
            onboarding=days_between(j.as_of, j.created) <= self.cfg.features.milestones.relevance_days,
        )

    def value_milestones(self) -> list[str]:
        """The configured value milestones this data has; none of them (another product's names) means any."""
        return [m for m in self.cfg.features.milestones.value_milestones if m in self.vocab.milestones]

    def nps(self) -> ibis.Table:
        s, n = self.spine, self.source.table("nps_responses")
        j = s.left_join(n, [s.account_id == n.account_id, n.responded_at < s.as_of_ts])
        order = [ibis.desc(j.responded_at), ibis.desc(j.score)]
        return j.mutate(
            d=days_between(j.as_of, j.responded_at.date()),
            rn=ibis.row_number().over(group_by=[j.account_id, j.as_of], order_by=order),
        )

    def subscriptions(self) -> ibis.Table:
        s, sub = self.spine, self._lines()
        j = s.join(sub, [s.account_id == sub.account_id, sub.start_date <= s.as_of])
        known_end = ibis.ifelse(j.end_date <= j.as_of, j.end_date, ibis.null("date"))
        days = self.cfg.features
        before = j.as_of - ibis.interval(days=days.mrr_change_days)
        then = j.as_of - ibis.interval(days=days.subscriptions.addon_change_days)
        covers_then = (j.start_date <= then) & (known_end.isnull() | (known_end > then))
        renewal = j.renewal_date if "renewal_date" in j.columns else ibis.null("date")
        period = j.billing_period_months if "billing_period_months" in j.columns else ibis.null("float64")
        addon = ~j.base
        plan_window = ibis.window(group_by=[j.account_id, j.as_of, j._plan])
        return j.mutate(
            start_d=days_between(j.as_of, j.start_date),
            covers_now=known_end.isnull(),
            covers_before=(j.start_date <= before) & (known_end.isnull() | (known_end > before)),
            covers_then=covers_then,
            # per add-on plan: running as an add-on now / addon_change_days ago (expansion and contraction)
            addon_plan_now=flag(addon & known_end.isnull()).max().over(plan_window) == 1,
            addon_plan_then=flag(addon & covers_then).max().over(plan_window) == 1,
            term_d=days_between(known_end, j.start_date),  # null while the row runs: its end is not known yet
            renewal_d=days_between(renewal, j.as_of),  # agreed at signing, so known once the row started
            period_d=period.cast("float64") * MONTH,  # the line's billing period in days, when given
        )

    def _lines(self) -> ibis.Table:
        """The subscription lines with ``_plan`` (plan, '' when null) and ``base``: is it the base line.

        A line is an add-on when its plan is not a base plan and another line of the account was running on
        the day it started (``features.subscriptions.base_plans``; see :func:`base_plans`). Everything the
        flag reads was known on the line's start date, so it is the same at every as-of date that sees it.
        """
        sub = self.source.table("subscriptions")
        sub = sub.mutate(_plan=sub.plan.fill_null(""))
        other = sub.select(o_acc=sub.account_id, o_start=sub.start_date, o_end=sub.end_date, o_plan=sub._plan,
                           o_mrr=sub.mrr)
        another = (other.o_start != sub.start_date) | (other.o_plan != sub._plan) | (other.o_mrr != sub.mrr) | (
            other.o_end.isnull() != sub.end_date.isnull()) | (other.o_end != sub.end_date).fill_null(False)
        beside = [sub.account_id == other.o_acc, other.o_start <= sub.start_date,
                  other.o_end.isnull() | (other.o_end > sub.start_date), another]
        # The test reads only the LINE_KEY columns of a line: the keys with another line beside them come from an
        # inner join (hashed on the account; a semi join on this condition is a nested loop on DuckDB, quadratic
        # in the lines: 56 s at 195,541 lines), and every line is matched back to them by its key.
        over = sub.join(other, beside).select(*[sub[c].name(f"k{c}") for c in LINE_KEY]).distinct()
        same = [sub[c].identical_to(over[f"k{c}"]) for c in LINE_KEY]
        overlapping = sub.semi_join(over, same).mutate(_over=True)
        sub = self._reused(overlapping.union(sub.anti_join(over, same).mutate(_over=False)))
        named = self.cfg.features.subscriptions.base_plans
        if named:
            sub = sub.mutate(_named=plan_matches(sub._plan, named))
        else:
            roles = base_plans(sub, self._reused).rename(b_acc="account_id", b_plan="_plan")
            sub = sub.left_join(roles, [sub.account_id == roles.b_acc, sub._plan == roles.b_plan])
            sub = sub.mutate(_named=sub.since.notnull() & (sub.since <= sub.start_date))
        sub = sub.mutate(base=sub._named.fill_null(False) | ~sub._over)
        return self._temp(sub.drop(*[c for c in sub.columns if c in ("since", "b_acc", "b_plan", "_over", "_named")]))

    def accounts(self) -> ibis.Table:
        s, a = self.spine, self.source.table("accounts")
        j = s.join(a, s.account_id == a.account_id)
        return j.mutate(tenure=days_between(j.as_of, j.created_at.date()))

    def derived_inputs(self) -> ibis.Table | None:
        """(account, as-of) columns the ``derived`` definitions read besides the features, or None: with a calendar
        (``features.calendar``), ``tenure_nd`` = the days of the account's tenure that are not holidays, for an
        account younger than its longest usage window's reach (null for an older one, whose windows are full; see
        :func:`young_tenures`). The young-account denominators of the ``*_vs_baseline`` ratios count these days,
        as the windows do."""
        holidays = calendar_holidays(self.cfg)
        if not holidays:
            return None
        young = young_tenures(self.dates, max(self.cfg.features.usage.windows), holidays)
        young.columns = ["y_as_of", "y_tenure", "tenure_nd"]
        table = ibis.memtable(young, schema={"y_as_of": "date", "y_tenure": "int64", "tenure_nd": "int64"})
        a = self.accounts()
        j = a.left_join(table, [a.as_of == table.y_as_of, a.tenure == table.y_tenure])
        return j.group_by(["account_id", "as_of"]).aggregate(tenure_nd=j.tenure_nd.max().cast("float64"))

    def frame(self, name: str) -> ibis.Table:
        """The frame called ``name`` (see ``features.base.FRAMES``)."""
        return getattr(self, name)()


#: The columns of a subscription line that decide whether another line runs beside it (:meth:`Frames._lines`).
LINE_KEY = ("account_id", "start_date", "end_date", "_plan", "mrr")
#: How far (days) a plan switch may start after the base line it replaces ended.
SWITCH_SLACK = 5
#: Plan switches followed from the first period (a switch to a plan, then to another, ...).
SWITCHES = 3


def plan_matches(plan, patterns: list[str]):
    """Whether ``plan`` matches one of ``patterns`` (case-insensitive; ``*`` any text, ``?`` one character)."""
    low = plan.lower()
    tests = [low.like(p.lower().replace("*", "%").replace("?", "_")) if any(c in p for c in "*?")
             else low == p.lower() for p in patterns]
    out = tests[0]
    for t in tests[1:]:
        out = out | t
    return out


def base_plans(lines: ibis.Table, reused: Callable[[ibis.Table], ibis.Table] = lambda table: table) -> ibis.Table:
    """(account_id, _plan, since): the account's base plans and the day each became one.

    The plans of the lines that started on the account's first start date are base plans from then; a plan
    whose first line starts at most :data:`SWITCH_SLACK` days after a base line ended, when no line of the
    ended plan started in between (a switch, not a renewal), is a base plan from that start. Switches are
    followed :data:`SWITCHES` deep. Each step reads only lines that started, and ends on or before, the day it
    decides, so no as-of date sees a role decided by a later row.

    Each step reads the roles so far three times: ``reused`` hands them (and the first starts) to the engine as
    tables read several times (:meth:`Frames._reused`; Spark computes each once instead of once per reading).
    """
    firsts = reused(lines.group_by(["account_id", "_plan"]).aggregate(first=lines.start_date.min()))
    first_day = lines.group_by("account_id").aggregate(day=lines.start_date.min())
    roles = firsts.join(first_day, [firsts.account_id == first_day.account_id, firsts.first == first_day.day])
    roles = reused(roles.select(firsts.account_id, firsts._plan, since=firsts.first))
    slack = ibis.interval(days=SWITCH_SLACK)
    starts = lines.select(r_acc=lines.account_id, r_plan=lines._plan, r_start=lines.start_date)
    for _ in range(SWITCHES):
        base = lines.join(roles, [lines.account_id == roles.account_id, lines._plan == roles._plan,
                                  lines.start_date >= roles.since])
        ended = base.filter(lines.end_date.notnull()).select(
            e_acc=lines.account_id, e_plan=lines._plan, e_end=lines.end_date)
        new = firsts.anti_join(roles, ["account_id", "_plan"])
        hit = new.join(ended, [new.account_id == ended.e_acc, ended.e_end <= new.first,
                               ended.e_end >= new.first - slack])
        hit = hit.anti_join(starts, [hit.account_id == starts.r_acc, hit.e_plan == starts.r_plan,
                                     starts.r_start >= hit.e_end - slack, starts.r_start <= hit.first])
        step = hit.group_by(["account_id", "_plan"]).aggregate(since=hit.first.min())
        roles = reused(roles.union(step).distinct())
    return roles

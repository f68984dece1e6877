"""How a feature is defined: one small function, one column.

A definition is a function decorated with :func:`feature`. Its ``name`` is the
column it produces (a template when it runs per window, event type or
milestone: ``events_{window}d``), its docstring says what it means, and its
``risk`` / ``protective`` sentences are what a CSM reads when it drives the
score. The function body returns an ibis expression over a point-in-time
*frame* (see ``pipeline.engine.frames``), so the same definition runs on DuckDB,
PostgreSQL and Spark.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from features.sentences import as_number, capitalised, label_words, render, render_numbers, value_part
from features.settings import FeatureSettings

#: Every definition, in the order the modules declare them.
REGISTRY: list["Definition"] = []

#: How risk moves with a feature's value: ``higher`` (higher is riskier), ``lower`` (lower is riskier) or
#: ``context`` (when or for whom, not why: revenue, plan, tenure, segment, renewal timing, attributes).
DIRECTIONS = {"higher": 1, "lower": -1, "context": 0}

#: Frames a definition can aggregate over (built in ``pipeline.engine.frames``).
FRAMES = ("usage", "users", "year_ago", "tickets", "milestones", "nps", "subscriptions", "accounts", "derived")


@dataclass(frozen=True, eq=False)
class Definition:
    """A registered feature definition (possibly a template over parameters)."""

    name: str
    family: str
    frame: str
    fn: Callable[..., Any]
    doc: str
    unit: str
    risk: str
    protective: str
    group: str
    direction: str
    topic: str = ""  # the reason group in words ("NPS", "Urgent support tickets"): chart legends, never an identifier
    kind: str = "numeric"
    per: str | None = None  # "window", "event_type", "event_type_window", "milestone", "attribute"
    requires: tuple[str, ...] = ()  # optional contract tables it needs
    at_most_zero: str | None = None  # the sentence, either way, when the value is 0 or less
    capped_by: str | None = None  # the parameter holding the value's cap: "{plus}" reads "+" at the cap
    ages: bool = False  # the value grows by one a day by construction (tenure): the drift check ages its reference
    history: str | None = None  # days of history the value needs to mean what it means for older accounts ("{window}")
    date_relative: bool = False  # measured against all accounts on the same date: the drift check leaves it out
    weekday: bool = False  # moves with the as-of date's day of the week (recency): drift compares like weekdays


@dataclass(frozen=True)
class Feature:
    """One concrete feature column, a definition bound to its parameters."""

    name: str
    definition: Definition
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.definition.family

    @property
    def group(self) -> str:
        return self.definition.group.format(**self.params)

    @property
    def kind(self) -> str:
        return self.definition.kind

    @property
    def topic(self) -> str:
        """The reason group in words, for legends: the definition's ``topic`` with the parameters filled in."""
        return capitalised(self.definition.topic.format(**{"label": label_words(self.params), **self.params}))

    @property
    def history_days(self) -> int | None:
        """Days of history the value needs (the definition's ``history`` filled in), or None."""
        if not self.definition.history:
            return None
        terms = self.definition.history.format(**self.params).split("+")
        return sum(math.prod(int(factor) for factor in term.split("*")) for term in terms)

    @property
    def direction(self) -> str:
        return self.definition.direction

    @property
    def sign(self) -> int:
        """+1 when higher values are riskier, -1 when lower ones are, 0 for context."""
        return DIRECTIONS[self.definition.direction]

    @property
    def description(self) -> str:
        return self.definition.doc.format(**self.params)

    def sentence(self, value: Any, toward_risk: bool = True) -> str:
        """The plain-language reason for this feature at ``value``."""
        template, plus = self._template(as_number(value), toward_risk)
        return render(template, value, {**self.params, "plus": plus})

    def sentences(self, numbers: list[float], toward_risk: bool = True) -> list[str]:
        """:meth:`sentence` of each of ``numbers`` (finite floats), the same text, with each of the template's
        fields filled for all numbers at once (:func:`render_numbers`)."""
        alike: dict[tuple[str, str], list[int]] = {}  # (template, plus) -> positions
        for i, number in enumerate(numbers):
            alike.setdefault(self._template(number, toward_risk), []).append(i)
        out = [""] * len(numbers)
        for (template, plus), at in alike.items():
            for i, text in zip(at, render_numbers(template, [numbers[i] for i in at], {**self.params, "plus": plus})):
                out[i] = text
        return out

    def _template(self, number: float | None, toward_risk: bool) -> tuple[str, str]:
        """The sentence template a value reads with (its direction's, or ``at_most_zero``'s at 0 or less) and its
        ``{plus}`` ("+" at the cap)."""
        template = self.definition.risk if toward_risk else self.definition.protective
        if self.definition.at_most_zero and number is not None and number <= 0:
            template = self.definition.at_most_zero
        cap = self.params.get(self.definition.capped_by) if self.definition.capped_by else None
        return template, "+" if cap is not None and number is not None and number >= cap else ""

    def moved(self, value: Any, before: Any, toward_risk: bool = True) -> str:
        """The sentence at ``value`` and where it came from: "Last NPS answer was 8 of 10, up from 4".

        ``before`` is written the way the sentence writes a value (its format, its units); a number gets
        "up from" / "down from", a category "(was 'pro')"; nothing is added when ``before`` is missing or
        reads the same as ``value``, or the sentence writes no value. A value told in words reads
        "(was 10 % above)".
        """
        now = self.sentence(value, toward_risk)
        number, earlier = as_number(value), as_number(before)
        if before is None or earlier is None and isinstance(before, float):
            return now
        template = self.definition.risk if toward_risk else self.definition.protective
        shown = value_part(template)
        if shown is None:  # a sentence that writes no value ("The customer is an NPS detractor") says it all
            return now
        if self.definition.at_most_zero and number is not None and earlier is not None and number <= 0 \
                and earlier <= 0:  # "No product events in the last 30 days" either way
            return now
        words = {**self.params, "plus": ""}
        then, this = render(shown, before, words), render(shown, value, words)
        if then == this:
            return now
        if number is None or earlier is None or not shown.startswith("{value"):  # a category, or a value in words
            return f"{now} (was {then})"
        return f"{now}, {'up' if number > earlier else 'down'} from {then}"

    def expression(self, frame: Any, settings: FeatureSettings) -> Any:
        """The ibis expression computing this feature on ``frame``, under the ``features:`` ``settings``."""
        return self.definition.fn(frame, P(settings=settings, **self.params))


class P(dict):
    """Parameters of a definition, readable as attributes (``p.window``; ``p.settings``: the ``features:`` section)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def feature(
    *,
    name: str | None = None,
    family: str,
    frame: str,
    unit: str,
    risk: str,
    protective: str,
    direction: str,
    group: str | None = None,
    topic: str = "",
    kind: str = "numeric",
    per: str | None = None,
    requires: tuple[str, ...] = (),
    at_most_zero: str | None = None,
    capped_by: str | None = None,
    ages: bool = False,
    history: str | None = None,
    date_relative: bool = False,
    weekday: bool = False,
):
    """Register a feature definition.

    Parameters
    ----------
    name : str, optional
        Column name or template; defaults to the function's name.
    family : str
        Signal family (usage, tickets, milestones, nps, revenue, account).
    frame : str
        The point-in-time frame it is computed on (one of :data:`FRAMES`).
    unit : str
        Unit of the value, for the README and reports.
    risk, protective : str
        Sentences with ``{value}`` (and template parameters) for reasons.
    direction : {"higher", "lower", "context"}
        How risk moves with the value (:data:`DIRECTIONS`). It sets the LightGBM monotone
        constraint, lets the feature be a risk reason only on its risky side, and keeps
        context features out of the reasons.
    group : str, optional
        Reason group: features of one group read as one reason (default: the name).
    topic : str
        The group in words, with template parameters ("NPS", "'{event_type}' events"): what a chart
        legend calls the group. Every member of a group gives the same topic.
    kind : {"numeric", "categorical"}
    per : str, optional
        What the template expands over.
    requires : tuple of str
        Optional contract tables the feature needs; it is dropped when they are absent.
    at_most_zero : str, optional
        The sentence when the value is 0 or less ("No product events in the last 30 days").
    capped_by : str, optional
        The parameter holding a cap on the value; ``{plus}`` in a sentence reads "+" at the cap
        ("open for 180+ days"), nothing below it.
    ages : bool
        The value grows by one a day by construction (tenure): the drift check compares it with its
        training reference aged to the scoring date, so a base growing older is no drift.
    history : str, optional
        Days of an account's history the value needs before it means what it means for an older
        account: a number or a template over the parameters, sums and products of whole numbers
        (``"{window}"``, ``"{trend}+{trend}"``, ``"7*{weeks}"``). The drift check compares it only among accounts that old.
    date_relative : bool
        The value is measured against all accounts on the same as-of date (a date-wide shift cannot show
        in it: the levels it is built from carry one), or it is the same for every account of a date (the
        calendar's holiday days): either way its shifts are the date's, not the accounts', so the drift
        check leaves it out.
    weekday : bool
        The value moves with the as-of date's day of the week by construction (days since the last
        activity: on a Monday the weekend counts): the drift check compares it with the training
        snapshots of the same weekday where it has them.
    """
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    if kind != "numeric" and direction != "context":
        raise ValueError(f"a categorical feature has no order: its direction is 'context', not {direction!r}")

    def register(fn):
        doc = inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        REGISTRY.append(
            Definition(
                name=name or fn.__name__,
                family=family,
                frame=frame,
                fn=fn,
                doc=doc,
                unit=unit,
                risk=risk,
                protective=protective,
                group=group or name or fn.__name__,
                direction=direction,
                topic=topic,
                kind=kind,
                per=per,
                requires=requires,
                at_most_zero=at_most_zero,
                capped_by=capped_by,
                ages=ages,
                history=history,
                date_relative=date_relative,
                weekday=weekday,
            )
        )
        return fn

    return register


def flag(condition):
    """1.0 where ``condition`` holds, 0.0 where it does not, null where it is unknown.

    Portable across engines (PostgreSQL cannot cast booleans to numbers).
    """
    import ibis

    return ibis.cases((condition, 1.0), (~condition, 0.0), else_=ibis.null("float64"))

"""Tests of ``pipeline/synthetic/params.py``: vocabularies and the validated, recordable ``WorldParams``."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.synthetic import params
from pipeline.synthetic.params import WorldParams


def test_vocabularies_line_up_with_their_numbers():
    assert len(params.REGIONS) == len(params.REGION_UTC_OFFSET) == len(WorldParams().region_share)
    assert len(params.PLANS) == len(params.PLAN_PRICE) and list(params.PLAN_PRICE) == sorted(params.PLAN_PRICE)
    assert len(params.MILESTONES) == len(params.MILESTONE_DUE) == 4 and len(params.HOUR_WEIGHTS) == 24
    assert len(params.DRIVERS) == 6 and params.DRIVERS[-1] == "unpredictable"


def test_defaults_are_the_demo_world_with_shares_that_add_up():
    p = WorldParams()
    for shares in (p.segment_share, p.region_share, p.event_mix_engaged, p.event_mix_disengaged):
        assert sum(shares) == pytest.approx(1.0)
    assert p.optional_tables == params.OPTIONAL_TABLES and p.anytime_share == 0 and p.new_share is None
    assert p.batched_event == "api_call" and p.unattended_event == "integration_sync"
    assert (p.truth_frequency, p.truth_horizon_days) == ("monthly", 90)


def test_to_dict_is_json_with_lists_for_tuples_and_round_trips():
    p = WorldParams(anytime_share=0.5)
    data = json.loads(json.dumps(p.to_dict()))
    assert data["event_types"] == list(params.EVENT_TYPES) and data["anytime_share"] == 0.5
    assert WorldParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}) == p


@pytest.mark.parametrize("changes, message", [
    ({"event_types": ("a", "b")}, "same length"),
    ({"batched_event": "teleport"}, "must be event types"),
    ({"milestones": ("a", "b", "c")}, "exactly four milestones"),
    ({"optional_tables": ("payments",)}, "optional_tables must be among"),
    ({"truth_frequency": "daily"}, "monthly or weekly"),
    ({"truth_horizon_days": 0}, "horizon > 0"),
    ({"anytime_share": 1.5}, "shares in"),
    ({"new_share": 1.0}, "new_share"),
])
def test_inconsistent_params_are_refused(changes, message):
    with pytest.raises(ValueError, match=f"WorldParams: .*{message}"):
        WorldParams(**changes)


def test_params_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WorldParams().b0 = 0.0

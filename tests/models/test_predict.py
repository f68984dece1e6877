"""Tests of ``models/predict.py``: probabilities and reasons added to feature rows by ``score_rows``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.classifier import ChurnModel
from models.predict import SCORE_COLUMNS, predict, predict_and_explain, score_rows
from pipeline.config import load_config
from pipeline.engine.catalog import Vocabulary, catalog

NAMES = ["events_30d", "days_since_last_activity", "open_urgent_tickets", "plan", "mrr"]


def rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn rises with inactivity and open urgent tickets; plan and mrr are context."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "account_id": [f"A{i:04d}" for i in range(n)],
        "events_30d": rng.poisson(20, n).astype(float),
        "days_since_last_activity": rng.integers(0, 60, n).astype(float),
        "open_urgent_tickets": rng.integers(0, 3, n).astype(float),
        "plan": pd.array(rng.choice(["basic", "pro", None], n), dtype="string"),
        "mrr": rng.uniform(50, 500, n),
    })
    frame.loc[::7, "events_30d"] = np.nan
    logit = -2 + 0.05 * frame["days_since_last_activity"] + 0.8 * frame["open_urgent_tickets"]
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def setup():
    features = [f for f in catalog(load_config(None, {}), Vocabulary.of([], []), {"support_tickets"})
                if f.name in NAMES]
    assert sorted(f.name for f in features) == sorted(NAMES)
    X, y = rows(1500, seed=1)
    model = ChurnModel(params={"num_boost_round": 30}, seed=1, calibration="sigmoid").fit(
        X, y, X_calib=X, y_calib=y, feature_names=NAMES, categorical=["plan"])
    return model, features, rows(60, seed=2)[0]


def test_score_rows_adds_the_score_columns_and_keeps_the_rows(setup):
    model, features, frame = setup
    out = score_rows(model, frame, features, 2, ["renewal"])
    assert list(out.columns) == [*frame.columns, *SCORE_COLUMNS]
    pd.testing.assert_frame_equal(out[frame.columns], frame)
    assert out["churn_probability"].between(0, 1).all()
    np.testing.assert_allclose(out["churn_probability"], model.predict_risk(frame), rtol=0, atol=1e-12)
    assert all(isinstance(s, str) and s for s in out["reason_summary"])


def test_reasons_are_json_that_adds_up_to_the_raw_score(setup):
    model, features, frame = setup
    out = score_rows(model, frame, features, 2, [])
    raw = model.raw_score(frame)
    for text, score in zip(out["reasons"], raw):
        doc = json.loads(text)
        listed = [r for part in ("risk", "protective", "context") for r in doc[part]]
        assert len(doc["risk"]) <= 2 and len(doc["protective"]) <= 2
        assert doc["base_value"] + doc["other"] + sum(r["contribution"] for r in listed) == pytest.approx(score, abs=1e-5)
        assert {r["feature"] for r in doc["context"]} <= {"plan", "mrr"}  # declared context, never a reason
        assert not {r["feature"] for r in doc["risk"] + doc["protective"]} & {"plan", "mrr"}


def test_score_rows_is_predict_and_explain_in_text_form(setup):
    model, features, frame = setup
    probability, explained = predict_and_explain(model, frame.head(5), features, 3, [])
    out = score_rows(model, frame.head(5), features, 3, [])
    assert out["churn_probability"].tolist() == probability.tolist()
    assert out["reasons"].tolist() == [str(r) for r in explained.reasons]
    assert out["reason_summary"].tolist() == [str(s) for s in explained.summary]


@pytest.mark.parametrize("block_rows", [7, 8_000])  # 60 rows: 9 blocks on threads, or one block
def test_reasons_taken_in_any_order_are_those_of_the_rows_in_frame_order(setup, monkeypatch, block_rows):
    """Scoring builds the reasons in rank order (``Predictions.take``): the same documents as building them in the
    frame's order and reordering (``Explanations.take``), across blocks of rows too."""
    import models.reasons

    model, features, frame = setup
    monkeypatch.setattr(models.reasons, "BLOCK_ROWS", block_rows)
    predictions = predict(model, frame, features, 2, ["renewal"])
    probability, explained = predict_and_explain(model, frame, features, 2, ["renewal"])
    order = np.random.default_rng(3).permutation(len(frame))
    built, reordered = predictions.take(order), explained.take(order)
    assert predictions.probability.tolist() == probability.tolist()
    for field in ("reasons", "summary", "contributions"):
        assert [str(t) for t in getattr(built, field)] == [str(t) for t in getattr(reordered, field)]
        assert [str(t) for t in getattr(reordered, field)] == [str(getattr(explained, field)[i]) for i in order]
    assert built.first.tolist() == reordered.first.tolist()
    np.testing.assert_array_equal(built.group_contributions.to_numpy(), reordered.group_contributions.to_numpy())


def test_contributions_worked_out_beside_predictions_are_those_worked_out_alone(setup):
    """``predict`` starts TreeSHAP on a thread of its own (``Predictions.pending``) with a copy of the booster: the
    model's own booster predicting meanwhile (a LightGBM booster keeps the tree range of a prediction in itself)
    changes neither the contributions nor the predictions."""
    from models.treeshap import contributions

    model, features, _ = setup
    frame = rows(20_000, seed=4)[0]
    alone = contributions(model, model.prepare(frame))
    raw = model.raw_score(frame)
    predictions = predict(model, frame, features, 2, [])
    assert predictions.pending is not None
    during = [model.raw_score(frame.head(500))]
    while not predictions.pending.done():  # the model's booster predicts as long as the thread runs tree after tree
        during.append(model.raw_score(frame.head(500)))
    pd.testing.assert_frame_equal(predictions.pending.result(), alone)
    np.testing.assert_array_equal(predictions.probability, model.predict_risk(frame))
    for scores in during:
        np.testing.assert_array_equal(scores, raw[:500])
    np.testing.assert_array_equal(predictions.take().group_contributions.to_numpy(),
                                  predict_and_explain(model, frame, features, 2, [])[1].group_contributions.to_numpy())

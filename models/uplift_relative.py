"""The ``rr`` uplift learner: the churn risk times a call's relative effect, by why the account is at risk.

Experiments hold a few hundred accounts per arm and few churners: an unstructured learner
(one model per arm, or a regression of a noisy pseudo-outcome) spends that data on learning
the churn probability twice. This learner assumes the structure of the problem instead:

    P(churn | x, called) = p0(x) * RR(x),    uplift(x) = p0(x) * (1 - RR(x))

* ``p0``: one LightGBM churn model on the accounts of *both* arms (twice the data of a
  per-arm model), corrected to the holdout arm's level by the fit below;
* ``RR``: the relative risk of churning when called, which depends on *why* the account is at
  risk: the shares of its churn risk (positive TreeSHAP contributions of the churn model,
  summed per reason group, e.g. the feature's family) are the covariates ``z`` of a Poisson
  model with the churn model's log-probability as offset,

      log E[churned] = log q(x) + a0 + a·z + called * (b0 + b·z),

  fitted by penalised Newton steps. ``b0`` is the pooled effect; the ridge penalty ``shrink``
  on ``b`` pulls each reason group's effect toward it (no group has an effect of its own
  until the data insist), and a light one on ``a`` keeps the level correction stable.

The churn model and the shares entering the Poisson fit are cross-fitted (out of fold), so
the relative effect is not learned from the churn model's own overfit. When the rows carry the
pipeline's churn probability as of their assignment date (column
:data:`models.uplift_baseline.BASE_RISK`, from a churn model of every account), it is the offset
``q`` instead (where known) and the experiment's own churn model only gives the reason shares.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.uplift_baseline import BASE_RISK

#: Ridge on the reason groups' relative effects (toward the pooled one) and on the level correction.
SHRINK, LEVEL_SHRINK = 20.0, 5.0
FOLDS = 4


def _group_matrix(features: list[str], groups: dict) -> tuple[list[str], np.ndarray]:
    """Reason group names and the 0/1 matrix features x groups (a feature not in ``groups`` is its own)."""
    names = list(dict.fromkeys(groups.get(f, f) for f in features))
    member = np.zeros((len(features), len(names)))
    for i, f in enumerate(features):
        member[i, names.index(groups.get(f, f))] = 1.0
    return names, member


def reason_shares(model: lgb.LGBMClassifier | None, x: pd.DataFrame, member: np.ndarray) -> np.ndarray:
    """Each row's share of its churn risk per reason group (positive TreeSHAP contributions; 0 without any)."""
    if model is None:
        return np.zeros((len(x), member.shape[1]))
    contrib = np.clip(np.asarray(model.predict(x, pred_contrib=True))[:, :-1], 0.0, None) @ member
    total = contrib.sum(axis=1, keepdims=True)
    return np.divide(contrib, total, out=np.zeros_like(contrib), where=total > 0)


def poisson_fit(design: np.ndarray, y: np.ndarray, offset: np.ndarray, penalty: np.ndarray,
                steps: int = 50) -> np.ndarray:
    """Penalised Poisson regression (log link, ``offset``) by Newton steps with step halving.

    Maximises ``sum(y * eta - exp(eta)) - beta' diag(penalty) beta / 2`` with ``eta = offset + design @ beta``.
    """
    beta = np.zeros(design.shape[1])

    def objective(b):
        eta = np.clip(offset + design @ b, -30, 5)
        return float(y @ eta - np.exp(eta).sum() - 0.5 * penalty @ (b * b))

    current = objective(beta)
    for _ in range(steps):
        mu = np.exp(np.clip(offset + design @ beta, -30, 5))
        grad = design.T @ (y - mu) - penalty * beta
        hess = (design * mu[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(beta.size)
        step, size = np.linalg.solve(hess, grad), 1.0
        while size > 1e-4:
            value = objective(beta + size * step)
            if value >= current:
                break
            size /= 2
        if size <= 1e-4:
            break
        beta, gain = beta + size * step, value - current
        current = value
        if gain < 1e-8:
            break
    return beta


def _classifier(x: pd.DataFrame, y: np.ndarray, seed: int, params: dict) -> lgb.LGBMClassifier | None:
    if np.unique(y).size < 2:
        return None
    return lgb.LGBMClassifier(**{**params, "random_state": seed}).fit(x, y)


def _risk(model: lgb.LGBMClassifier | None, x: pd.DataFrame, rate: float) -> np.ndarray:
    p = np.full(len(x), rate) if model is None else model.predict_proba(x)[:, 1]
    return np.clip(p, 1e-4, 1.0)


def _split(x: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The features of the experiment's churn model, and the baseline risk column when there is one."""
    if BASE_RISK not in x.columns:
        return x, None
    return x.drop(columns=[BASE_RISK]), pd.to_numeric(x[BASE_RISK], errors="coerce").to_numpy(dtype=float)


def _offset(q: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    """``q``, replaced by the baseline risk where it is known."""
    if base is None:
        return q
    return np.where(np.isnan(base), q, np.clip(base, 1e-4, 1.0))


def _design(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    ones = np.ones((len(z), 1))
    return np.hstack([ones, z, t[:, None] * ones, t[:, None] * z])


def fit(x: pd.DataFrame, t: np.ndarray, y: np.ndarray, seed: int, params: dict,
        groups: dict | None = None) -> dict:
    """Fit the churn model and the relative effect; the fitted parts as a dict for :func:`predict`.

    ``params`` are LightGBM parameters; ``shrink`` and ``level_shrink`` among them set the ridge penalties.
    """
    params = dict(params)
    shrink, level = float(params.pop("shrink", SHRINK)), float(params.pop("level_shrink", LEVEL_SHRINK))
    x, base = _split(x)
    names, member = _group_matrix(list(x.columns), groups or {})
    rate = float(y.mean())
    q, z = np.empty(len(y)), np.empty((len(y), len(names)))
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(y))
    for k in range(FOLDS):
        out = fold == k
        model = _classifier(x[~out], y[~out], seed + k, params)
        q[out], z[out] = _risk(model, x[out], rate), reason_shares(model, x[out], member)
    centre = z.mean(axis=0)
    zc = z - centre
    g = len(names)
    penalty = np.r_[0.0, np.full(g, level), 0.0, np.full(g, shrink)]
    beta = poisson_fit(_design(zc, t.astype(float)), y, np.log(_offset(q, base)), penalty)
    return {"risk": _classifier(x, y, seed, params), "rate": rate, "member": member, "groups": names,
            "centre": centre, "level": beta[: g + 1], "effect": beta[g + 1:]}


def relative_risk(m: dict, x: pd.DataFrame) -> np.ndarray:
    """Estimated churn probability when called divided by the one without a call, per row."""
    x, _ = _split(x)
    zc = reason_shares(m["risk"], x, m["member"]) - m["centre"]
    return np.exp(m["effect"][0] + zc @ m["effect"][1:])


def predict(m: dict, x: pd.DataFrame) -> np.ndarray:
    """Estimated reduction of the churn probability if called: ``p0 * (1 - RR)``."""
    x, base = _split(x)
    zc = reason_shares(m["risk"], x, m["member"]) - m["centre"]
    p0 = np.clip(_offset(_risk(m["risk"], x, m["rate"]), base) * np.exp(m["level"][0] + zc @ m["level"][1:]), 0.0, 1.0)
    return p0 * (1.0 - np.exp(m["effect"][0] + zc @ m["effect"][1:]))


def group_effects(m: dict) -> dict[str, float]:
    """Relative reduction of churn by a call for an account whose risk is all one reason group."""
    names, b0, b = m["groups"], m["effect"][0], m["effect"][1:]
    return {name: float(1.0 - np.exp(b0 + b[i] - m["centre"] @ b)) for i, name in enumerate(names)}

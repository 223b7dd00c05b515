"""Label aggregators beside plain majority vote: the candidates a job's GT chooses between.

Every model here is EM over the same data (:class:`~marketplace.quality.aggregation.CrowdAnswers`),
started from the (soft) majority vote, and every one takes ``known`` = ``{item index: label index}``:
the job's hidden GT items whose truth is known. With ``known`` the posteriors of those items are
clamped to the truth during EM (the *GT-clamped* variants), so the workers' skills are learned where
the truth is certain. GT answers are never added as a worker's answers: the model's workers are
exactly the crowd's workers, and a GT item's only votes are the workers' votes.

* :func:`dawid_skene_smoothed` - one confusion matrix ``P(answer | truth)`` per worker, estimated as
  the posterior mean under a Dirichlet prior. ``prior="flat"``: a fixed prior that leans to the
  diagonal; ``prior="pooled"``: the prior row is the *population's* confusion row (a hierarchical
  prior) with ``strength`` pseudo-answers, and workers with fewer than ``novice_below`` answers share
  one "novice" confusion matrix. A sparse worker thus neither dominates (a 2-answer worker is not
  "perfect") nor is ignored (the novices' pooled matrix is learned from all of their answers).
* :func:`one_coin` - one accuracy per worker, errors spread evenly over the other labels (a Beta
  prior centred on the population's accuracy).
* :func:`glad` - Whitehill et al. (2009): P(correct) = sigmoid(ability_w * easiness_i), with Gaussian
  priors on the ability and the log easiness; the M-step is a few L-BFGS steps.

The choice between them (and majority vote), scored on the job's GT, is in
:mod:`marketplace.quality.selection`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
from scipy.optimize import minimize

from marketplace.quality.aggregation import Aggregate, CrowdAnswers

MAX_ITERATIONS = 100
TOLERANCE = 1e-5


def normalise_rows(m: np.ndarray) -> np.ndarray:
    total = m.sum(axis=-1, keepdims=True)
    return np.divide(m, total, out=np.full_like(m, 1.0 / m.shape[-1]), where=total > 0)


def clamp(posterior: np.ndarray, known: Mapping[int, int]) -> np.ndarray:
    """Set the known items' posterior to their truth (in place) and return it."""
    if known:
        items = np.fromiter(known.keys(), dtype=np.intp, count=len(known))
        posterior[items] = 0.0
        posterior[items, np.fromiter(known.values(), dtype=np.intp, count=len(known))] = 1.0
    return posterior


def soft_majority(answers: CrowdAnswers, known: Mapping[int, int] | None = None) -> np.ndarray:
    """Vote shares per item (uniform for an item nobody answered), GT items clamped."""
    return clamp(normalise_rows(answers.vote_counts()), known or {})


def posterior_from_loglik(answers: CrowdAnswers, log_prior: np.ndarray, per_answer: np.ndarray) -> np.ndarray:
    """``P(truth | answers)`` from the class log prior and ``log P(answer | truth)`` per answer."""
    k = answers.n_classes
    log_post = np.empty((answers.n_items, k))
    for t in range(k):
        log_post[:, t] = log_prior[t] + np.bincount(
            answers.item, weights=per_answer[:, t], minlength=answers.n_items
        )
    log_post -= log_post.max(axis=1, keepdims=True)
    return normalise_rows(np.exp(log_post))


def confusion_counts(
    answers: CrowdAnswers, posterior: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """``(n_workers, k, k)`` expected counts: ``[w, t, a]`` = sum of ``P(item = t)`` over w's answers a."""
    k, n_workers = answers.n_classes, answers.n_workers
    worker, label, item = answers.worker, answers.label, answers.item
    if mask is not None:
        worker, label, item = worker[mask], label[mask], item[mask]
    key = worker * k + label
    counts = np.empty((n_workers, k, k))
    for t in range(k):
        counts[:, t, :] = np.bincount(key, weights=posterior[item, t], minlength=n_workers * k).reshape(
            n_workers, k
        )
    return counts


def class_priors(posterior: np.ndarray) -> np.ndarray:
    """Class frequencies with one pseudo-item per class (never zero)."""
    k = posterior.shape[1]
    return (posterior.sum(axis=0) + 1.0) / (len(posterior) + k)


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.clip(x, 1e-300, None))


def _result(posterior: np.ndarray, iterations: int) -> Aggregate:
    labels = posterior.argmax(axis=1)
    return Aggregate(labels, posterior[np.arange(len(labels)), labels], posterior, iterations)


def _gt_start(answers: CrowdAnswers, posterior: np.ndarray, known: Mapping[int, int]) -> np.ndarray:
    """Expected counts for a first M-step: GT-measured for workers who answered GT, else the vote's.

    From the vote shares alone a few GT items cannot pull EM out of the basin the majority defines
    (a crowd that inverts a label stays inverted); counts measured on GT start it where the evidence is.
    """
    counts = confusion_counts(answers, posterior)
    if known:
        on_gt = np.isin(answers.item, np.fromiter(known.keys(), dtype=np.intp, count=len(known)))
        gt_counts = confusion_counts(answers, posterior, on_gt)
        answered = gt_counts.sum(axis=(1, 2)) > 0
        counts[answered] = gt_counts[answered]
    return counts


# --------------------------------------------------------------------------- Dawid-Skene


def _flat_prior(k: int, strength: float) -> np.ndarray:
    """Dirichlet pseudo-counts per row: ``strength`` answers of a 'fair' worker (70% right)."""
    if k == 1:
        return np.full((1, 1), strength)
    off = 0.3 / (k - 1)
    return strength * (np.full((k, k), off) + np.eye(k) * (0.7 - off))


def ds_confusions(
    counts: np.ndarray,
    answered: np.ndarray,
    prior: Literal["flat", "pooled"],
    strength: float,
    novice_below: int,
) -> np.ndarray:
    """Posterior-mean confusion matrices from expected counts (see :func:`dawid_skene_smoothed`)."""
    k = counts.shape[1]
    if prior == "flat":
        alpha = np.broadcast_to(_flat_prior(k, strength), counts.shape)
    else:
        population = normalise_rows(counts.sum(axis=0) + _flat_prior(k, 1.0))
        alpha = np.broadcast_to(strength * population, counts.shape)
        novices = answered < novice_below
        if novices.any():
            counts = counts.copy()
            counts[novices] = counts[novices].sum(axis=0)
    return normalise_rows(counts + alpha)


def _em(
    answers: CrowdAnswers,
    known: Mapping[int, int],
    loglik: Callable[[np.ndarray, int], np.ndarray],
    max_iterations: int,
    tolerance: float,
) -> Aggregate:
    """The EM loop every model shares, from the soft majority vote: ``loglik(posterior, iteration)``
    fits the model to the posterior (M step) and returns each answer's log likelihood per true label;
    the posterior follows (E step, known GT answers clamped) until it moves less than ``tolerance``."""
    posterior = soft_majority(answers, known)
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is returned
        per_answer = loglik(posterior, iterations)
        updated = clamp(posterior_from_loglik(answers, _log(class_priors(posterior)), per_answer), known)
        change = float(np.abs(updated - posterior).max()) if posterior.size else 0.0
        posterior = updated
        if change < tolerance:
            break
    return _result(posterior, iterations)


def _right_or_uniform(answers: CrowdAnswers, p: np.ndarray) -> np.ndarray:
    """Per answer and true label: log p when the answer is that label, else the rest shared evenly."""
    k = answers.n_classes
    per_answer = np.repeat(np.log((1 - p) / max(k - 1, 1))[:, None], k, axis=1)
    per_answer[np.arange(len(p)), answers.label] = np.log(p)
    return per_answer


def dawid_skene_smoothed(
    answers: CrowdAnswers,
    known: Mapping[int, int] | None = None,
    *,
    prior: Literal["flat", "pooled"] = "flat",
    strength: float = 1.0,
    novice_below: int = 0,
    max_iterations: int = MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> Aggregate:
    """Dawid-Skene EM from the majority vote with Dirichlet-smoothed confusion matrices.

    ``strength`` is the prior's weight in pseudo-answers per true label; with ``prior="pooled"`` the
    prior is the population's confusion matrix and workers with fewer than ``novice_below`` answers
    share one matrix.
    """
    known = dict(known or {})
    answered = np.bincount(answers.worker, minlength=answers.n_workers)

    def loglik(posterior: np.ndarray, iteration: int) -> np.ndarray:
        if iteration == 1:
            counts = _gt_start(answers, posterior, known)
        else:
            counts = confusion_counts(answers, posterior)
        confusion = ds_confusions(counts, answered, prior, strength, novice_below)
        return _log(confusion[answers.worker, :, answers.label])

    return _em(answers, known, loglik, max_iterations, tolerance)


# --------------------------------------------------------------------------- one-coin


def one_coin(
    answers: CrowdAnswers,
    known: Mapping[int, int] | None = None,
    *,
    strength: float = 2.0,
    max_iterations: int = MAX_ITERATIONS,
    tolerance: float = TOLERANCE,
) -> Aggregate:
    """One-coin Dawid-Skene: a worker is right with probability ``skill_w``, else picks a wrong label
    uniformly. ``skill_w`` is the posterior mean under a Beta prior of ``strength`` pseudo-answers
    centred on the population's accuracy."""
    known = dict(known or {})
    answered = np.bincount(answers.worker, minlength=answers.n_workers).astype(np.float64)

    def loglik(posterior: np.ndarray, iteration: int) -> np.ndarray:
        right = np.bincount(
            answers.worker, weights=posterior[answers.item, answers.label], minlength=answers.n_workers
        )
        population = (right.sum() + 1.0) / (answered.sum() + 2.0)
        skill = (right + strength * population) / (answered + strength)
        return _right_or_uniform(answers, np.clip(skill[answers.worker], 1e-6, 1 - 1e-6))

    return _em(answers, known, loglik, max_iterations, tolerance)


# --------------------------------------------------------------------------- GLAD


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _glad_loglik(answers: CrowdAnswers, ability: np.ndarray, log_easiness: np.ndarray) -> np.ndarray:
    z = ability[answers.worker] * np.exp(log_easiness[answers.item])
    return _right_or_uniform(answers, np.clip(_sigmoid(z), 1e-9, 1 - 1e-9))


def _glad_m_step(
    answers: CrowdAnswers,
    right: np.ndarray,
    ability: np.ndarray,
    log_easiness: np.ndarray,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the expected log likelihood + Gaussian log priors (ability ~ N(1, 1), log easiness ~
    N(0, 1)) over both parameter vectors; ``right`` = P(answer is correct) per answer."""
    n_w = answers.n_workers
    worker, item = answers.worker, answers.item

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta[:n_w], theta[n_w:]
        easiness = np.exp(b)
        z = a[worker] * easiness[item]
        log_p = -np.logaddexp(0.0, -z)
        log_q = -np.logaddexp(0.0, z)
        value = float((right * log_p + (1 - right) * log_q).sum())
        value -= 0.5 * float(((a - 1.0) ** 2).sum() + (b**2).sum())
        residual = right - _sigmoid(z)
        grad_a = np.bincount(worker, weights=residual * easiness[item], minlength=n_w) - (a - 1.0)
        grad_b = np.bincount(item, weights=residual * z, minlength=answers.n_items) - b
        return -value, -np.concatenate([grad_a, grad_b])

    result = minimize(
        objective,
        np.concatenate([ability, log_easiness]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": steps},
    )
    theta = np.clip(result.x, -20.0, 20.0)
    return theta[:n_w], theta[n_w:]


def glad(
    answers: CrowdAnswers,
    known: Mapping[int, int] | None = None,
    *,
    max_iterations: int = 30,
    m_steps: int = 10,
    tolerance: float = 1e-4,
) -> Aggregate:
    """GLAD (worker ability x item easiness) by EM from the majority vote."""
    known = dict(known or {})
    params = [np.ones(answers.n_workers), np.zeros(answers.n_items)]  # ability, log easiness: warm starts

    def loglik(posterior: np.ndarray, iteration: int) -> np.ndarray:
        right = posterior[answers.item, answers.label]
        params[:] = _glad_m_step(answers, right, params[0], params[1], m_steps)
        return _glad_loglik(answers, params[0], params[1])

    return _em(answers, known, loglik, max_iterations, tolerance)

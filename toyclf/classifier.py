"""``DiffusionClassifier``: a scikit-learn classifier that is a class-conditional diffusion model.

``fit`` scales X (:mod:`toyclf.scaling`) and trains the MLP denoiser (:mod:`toyclf.training`); the
predictions run the Monte Carlo Bayes estimator (:mod:`toyclf.estimator`); files: :mod:`toyclf.saving`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_parameter_constraints
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from toyclf.calibration import fit_temperature, warn_if_stale
from toyclf.estimator import LOSSES, WEIGHTINGS, class_errors, log_posterior, timestep_weights
from toyclf.plan import NOISE_SAMPLINGS, TIMESTEPS, TrialPlan, make_plan
from toyclf.pruning import PRUNING_CONSTRAINT, resolve_pruning
from toyclf.sampling import sample
from toyclf.saving import load_classifier, save_classifier
from toyclf.scaling import SCALINGS, fit_scaler, standardize
from toyclf.training import OBJECTIVES, objective_schedule, seeded_mlp, train_denoiser
from toyclf.utils.device import resolve_device
from toyclf.utils.threads import threads_for_load
from toyclf.utils.validation import POSITIVE_FINITE, check_known_labels, check_priors, int_at_least, is_int

SCHEDULES = ("cosine", "linear")  # the noise_schedule names the classifier trains with
PLAN_PARAMS = ("n_trials", "timesteps", "noise_sampling")  # read at prediction time -> toyclf.plan.make_plan
ESTIMATOR_PARAMS = ("loss", "weighting", "noise_range", "pruning", "temperature")  # -> toyclf.estimator.class_errors


@dataclass(kw_only=True, repr=False, eq=False)  # the generated __init__ only stores the arguments, as sklearn requires
class DiffusionClassifier(ClassifierMixin, BaseEstimator):
    """Classify with a class-conditional diffusion model: Li et al. (2023), "Your Diffusion Model
    is Secretly a Zero-Shot Classifier", on a small MLP noise predictor trained from scratch.

    ``fit`` trains eps_theta(x_t, t, c) on standardised X. A prediction scores every class on
    the same noise draws (t, eps): err(x, c) = mean_n w(t_n) ||eps_n - eps_theta(x_t, t_n, c)||^2,
    and returns p(c | x) = softmax_c(-err(x, c) / temperature + log p(c)). By default each sample
    gets only as many draws as its decision needs (early stopping, at most ``n_trials``).
    ``DiffusionClassifier(**toyclf.PAPER)`` runs the paper's estimator instead (:mod:`toyclf.paper`
    says which settings differ and why).

    Parameters
    ----------
    hidden_size : int, default=128
        Width of the MLP's residual blocks.
    n_layers : int, default=3
        Number of residual blocks.
    n_frequencies : int, default=8
        Fourier features per input feature (what lets the MLP draw sharp 2D shapes); 0 feeds
        the standardised features in as they are, which suits many features such as pixels.
    feature_scaling : {"per_feature", "global"}, default="per_feature"
        How X is standardised before the denoiser sees it: each feature to mean 0 and variance 1
        (:class:`~sklearn.preprocessing.StandardScaler`), or all features by one mean and one
        standard deviation (:class:`~toyclf.scaling.GlobalStandardScaler`), which keeps features that
        share a unit (the pixels of an image) in proportion: faint border pixels stay faint.
    objective : {"epsilon", "flow"}, default="epsilon"
        "epsilon": the MLP predicts the noise on DDPM's path (``noise_schedule``). "flow": flow
        matching, the MLP predicts the velocity eps - x_0 on the straight path of rectified flow
        (:class:`~toyclf.schedule.RectifiedFlowSchedule`). The estimator is the same for both.
    noise_schedule : {"cosine", "linear"}, default="cosine"
        DDPM's forward process for ``objective="epsilon"``.
    schedule_shift : float, default=4.0
        Multiplies every signal-to-noise ratio of the schedule by ``schedule_shift**2``
        (:meth:`NoiseSchedule.shifted`): low-dimensional data want more timesteps at low noise.
    n_timesteps : int, default=1000
        T, the number of diffusion steps.
    max_iter : int, default=3000
        Training steps (minibatches).
    batch_size : int, default=256
        Training minibatch size.
    learning_rate : float, default=2e-3
        Peak AdamW learning rate, decayed to zero on a cosine.
    n_trials : int, default=256
        Monte Carlo trials (t, eps) per class (the same trials for every class and point): all of
        them with ``pruning=None``, at most this many with early stopping.
    timesteps : {"even", "random"}, default="even"
        Timesteps evenly spaced over [0, T) (the paper's best), in nested order, or drawn at random.
    noise_sampling : {"sobol", "gaussian", "antithetic"}, default="sobol"
        How the shared noise is drawn: randomised quasi-Monte Carlo (scrambled Sobol, the
        fastest to converge), independent Gaussians (the paper), or antithetic twins (t, +-eps)
        (see :func:`toyclf.plan.make_plan`).
    pruning : "early_stopping", "staged", None or a rule object, default="early_stopping"
        How many trials each sample and class gets. ``"early_stopping"``
        (:class:`toyclf.pruning.EarlyStopping`): a sequential test per sample stops once the
        leading class is significantly ahead, so samples far from the boundary cost a few trials
        and only those on it get ``n_trials``. ``"staged"`` (:class:`~toyclf.pruning.StagedElimination`):
        the paper's Algorithm 2 (needs ``n_trials >= 500`` with its default stages). ``None``:
        every class of every sample gets all ``n_trials``. Pass a rule object to set its knobs,
        e.g. ``EarlyStopping(error_rate=0.01)``.
    loss : {"l2", "l1", "huber"}, default="l2"
        The denoising error.
    weighting : {"elbo", "uniform", "velocity"}, default="elbo"
        w(t): the ELBO weights (the errors are the negative ELBO: calibrated probabilities at
        temperature 1, the prior on the right scale), uniform (the paper's choice for images), or
        the weights that make the noise error a velocity error (a plain flow-matching loss; see
        :func:`toyclf.weighting.timestep_weights`).
    noise_range : (float, float) or None, default=(0.03, 10.0)
        Only timesteps whose noise-to-signal ratio sigma_t / alpha_t (in units of the standardised
        data) lies in this range count (:func:`toyclf.weighting.timestep_weights`).
    temperature : float, default=1.0
        Divides the errors before the softmax, which sets their scale against the log prior. With
        ELBO weights 1 is Bayes' rule on the model's likelihoods; uniform weights give probabilities
        far too flat until :meth:`calibrate` fits it (benchmarks/README.md, "Inside the estimator").
    priors : array-like of shape (n_classes,), default=None
        Class prior probabilities p(c); by default the class frequencies in ``y`` (as
        :class:`sklearn.naive_bayes.GaussianNB`).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the training minibatches and noise, and the prediction plan.
    device : str or torch.device, default="cpu"
        Where the denoiser trains and predicts ("cpu", "cuda", "mps"); on a CPU, predictions use
        only the cores other programs leave free (:func:`toyclf.utils.threads.threads_for_load`).
    verbose : bool, default=False
        Show progress bars.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,), only when X has feature names
    scaler_ : StandardScaler or GlobalStandardScaler, the standardisation fitted on X (see ``feature_scaling``)
    denoiser_ : MLPDenoiser, the trained noise predictor
    loss_curve_ : list of float, the training loss at every step
    n_iter_ : int, the number of training steps taken
    plan_seed_ : int, the seed of the prediction plan (fixed at fit, so predictions are repeatable)
    data_bound_ : float, the largest |value| of the standardised data; :meth:`sample` clips x0 to 1.5 times it

    Examples
    --------
    >>> from toyclf import PAPER, DiffusionClassifier, make_spirals
    >>> X, y = make_spirals(n_samples=500, noise=0.2, random_state=0)
    >>> X_test, y_test = make_spirals(n_samples=500, noise=0.2, random_state=1)
    >>> clf = DiffusionClassifier(max_iter=500, random_state=0).fit(X, y)  # a few seconds on a CPU
    >>> clf.predict(X_test[:4]), y_test[:4]
    (array([1, 1, 0, 0]), array([1, 1, 0, 0]))
    >>> clf.predict_proba(X_test[:2]).round(2)  # calibrated: the ELBO's errors are log-likelihoods
    array([[0.01, 0.99],
           [0.28, 0.72]])
    >>> clf.score(X_test, y_test) > 0.95
    True

    The paper's estimator (uniform weights, every class on every trial) decides alike, with
    flatter probabilities until :meth:`calibrate` fits a temperature:

    >>> paper = DiffusionClassifier(**PAPER, max_iter=500, n_trials=64, random_state=0).fit(X, y)
    >>> paper.predict_proba(X_test[:2]).round(2)
    array([[0.29, 0.71],
           [0.4 , 0.6 ]])
    >>> paper.score(X_test, y_test) > 0.95
    True
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "hidden_size": [int_at_least(1)],
        "n_layers": [int_at_least(0)],
        "n_frequencies": [int_at_least(0)],
        "feature_scaling": [StrOptions(set(SCALINGS))],
        "objective": [StrOptions(set(OBJECTIVES))],
        "noise_schedule": [StrOptions(set(SCHEDULES))],
        "schedule_shift": [POSITIVE_FINITE],
        "n_timesteps": [int_at_least(2)],
        "max_iter": [int_at_least(1)],
        "batch_size": [int_at_least(1)],
        "learning_rate": [POSITIVE_FINITE],
        "n_trials": [int_at_least(1)],
        "timesteps": [StrOptions(set(TIMESTEPS))],
        "noise_sampling": [StrOptions(set(NOISE_SAMPLINGS))],
        "pruning": PRUNING_CONSTRAINT,
        "loss": [StrOptions(set(LOSSES))],
        "weighting": [StrOptions(set(WEIGHTINGS))],
        "noise_range": [None, tuple],
        "temperature": [POSITIVE_FINITE],
        "priors": [None, "array-like"],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["boolean"],
    }

    hidden_size: int = 128
    n_layers: int = 3
    n_frequencies: int = 8
    feature_scaling: str = "per_feature"
    objective: str = "epsilon"
    noise_schedule: str = "cosine"
    schedule_shift: float = 4.0
    n_timesteps: int = 1000
    max_iter: int = 3000
    batch_size: int = 256
    learning_rate: float = 2e-3
    n_trials: int = 256
    timesteps: str = "even"
    noise_sampling: str = "sobol"
    pruning: Any = "early_stopping"
    loss: str = "l2"
    weighting: str = "elbo"
    noise_range: tuple[float, float] | None = (0.03, 10.0)
    temperature: float = 1.0
    priors: Any = None
    random_state: int | np.random.RandomState | None = None
    device: str | torch.device = "cpu"
    verbose: bool = False

    def _prediction_params(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The settings ``names``, read at prediction time, checked (``set_params`` may have changed them);
        numpy scalars as Python numbers."""
        params = {name: getattr(self, name) for name in names}
        validate_parameter_constraints(self._parameter_constraints, params, caller_name=type(self).__name__)
        return {name: value.item() if isinstance(value, np.generic) else value for name, value in params.items()}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> DiffusionClassifier:
        """Train the class-conditional denoiser on (X, y). X: (n_samples, n_features); y: any labels.

        Everything that can be checked is checked before training (the data's scale, the
        priors, the noise range against the schedule, the pruning rule against ``n_trials``). A run whose loss stops being finite (too
        high a ``learning_rate``) raises ``ValueError``; a classifier whose fit failed is not
        fitted (its ``predict`` raises ``NotFittedError``), never one that predicts from nan.
        """
        vars(self).pop("denoiser_", None)  # fitted again only once training succeeds (__sklearn_is_fitted__)
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            name, classes = type(self).__name__, self.classes_.tolist()
            raise ValueError(f"{name} needs samples of at least 2 classes in y; got 1 class: {classes}.")
        self.class_prior_ = check_priors(self.priors, counts)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        init_seed, train_seed, self.plan_seed_ = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))
        self.scaler_ = fit_scaler(self.feature_scaling, X)
        scaled = standardize(self.scaler_, X)  # [n, n_features] (refused if beyond float32)
        self.data_bound_ = float(np.abs(scaled).max())
        schedule = objective_schedule(
            self.objective, self.noise_schedule, int(self.n_timesteps), float(self.schedule_shift)
        )
        timestep_weights(schedule, self.weighting, noise_range=self.noise_range)  # a range of no timestep: refused now
        resolve_pruning(self.pruning).stage_ends(int(self.n_trials))  # stages that do not fit the trials: refused now
        sizes = {"hidden_size": self.hidden_size, "n_layers": self.n_layers, "n_frequencies": self.n_frequencies}
        sizes["prediction_type"] = OBJECTIVES[self.objective]  # the noise, or the velocity of flow matching
        denoiser = seeded_mlp(X.shape[1], len(self.classes_), schedule, seed=init_seed, **sizes).to(device)
        labels = torch.as_tensor(y_index, dtype=torch.long)  # [n]
        training = {"steps": self.max_iter, "batch_size": self.batch_size, "learning_rate": self.learning_rate}
        x0 = torch.as_tensor(scaled, dtype=torch.float32)
        self.loss_curve_ = train_denoiser(denoiser, x0, labels, seed=train_seed, progress=self.verbose, **training)
        self.n_iter_ = self.max_iter
        self.denoiser_ = denoiser
        return self

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once training has succeeded: the trained denoiser is the last thing ``fit`` sets."""
        return hasattr(self, "denoiser_")

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(standardize(self.scaler_, X), dtype=torch.float32)  # [n, n_features]

    def class_errors(self, X: Any, *, return_trials: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The Monte Carlo denoising error of every sample under every class, in ``classes_`` order.

        err[i, k] = mean_n w(t_n) loss(eps_n, eps_theta(x_t, t_n, k)) (paper, Algorithm 1): lower is
        likelier; it estimates -log p(x | c) up to a constant. Returns (n_samples, n_classes), and
        with ``return_trials=True`` also the number of (t, eps) trials (denoiser evaluations) each
        sample and class received, (n_samples, n_classes) ints.
        """
        check_is_fitted(self)
        plan_params, params = self._prediction_params(PLAN_PARAMS), self._prediction_params(ESTIMATOR_PARAMS)
        warn_if_stale(getattr(self, "calibrated_for_", None), {**plan_params, **params})
        X = validate_data(self, X, dtype=np.float64, reset=False)
        plan = self.trial_plan()
        x = self._to_tensor(X)  # [n, n_features], scaled
        params["num_threads"] = threads_for_load()  # the MLP's errors are the same on any number; its speed is not
        errors, trials = class_errors(
            self.denoiser_, x, plan, log_prior=self._log_prior(), progress=self.verbose, return_trials=True, **params
        )
        errors = errors.numpy().astype(np.float64)
        return (errors, trials.numpy()) if return_trials else errors

    def trial_plan(self, n_trials: int | None = None) -> TrialPlan:
        """The shared trials (t_n, eps_n) of Algorithm 1 that ``class_errors`` scores every class on,
        seeded at ``fit``: the same plan on every call. ``n_trials`` (default ``self.n_trials``, the
        plan ``class_errors`` uses) draws a plan of that many trials the same way (the same seed and
        noise; its timesteps spread evenly over its own length, so it is not a prefix of a longer
        plan). With a noise range, t is drawn only where the weights are nonzero."""
        check_is_fitted(self)
        params = self._prediction_params((*PLAN_PARAMS, "noise_range"))
        if n_trials is not None:
            if not is_int(n_trials):
                raise ValueError(f"n_trials must be an int >= 1; got {n_trials!r}.")
            params["n_trials"] = int(n_trials)
        noise_range = params.pop("noise_range")
        weights = timestep_weights(self.denoiser_.schedule, "uniform", noise_range=noise_range)  # [T], 0 outside
        density = None if noise_range is None else weights > 0  # trials only where they count
        return make_plan(self.denoiser_, seed=self.plan_seed_, timestep_density=density, **params)  # fixed at fit

    def _log_prior(self) -> torch.Tensor:
        with np.errstate(divide="ignore"):
            return torch.as_tensor(np.log(self.class_prior_))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log p(c | x) = log_softmax(-err / temperature + log prior), (n_samples, n_classes)."""
        errors = torch.as_tensor(self.class_errors(X))
        return log_posterior(errors, temperature=self.temperature, log_prior=self._log_prior()).numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """p(c | x), (n_samples, n_classes), columns in ``classes_`` order."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The class of highest posterior (argmin of the error when priors are equal)."""
        log_proba = self.predict_log_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(log_proba, axis=1)]

    def calibrate(self, X: Any, y: Any) -> DiffusionClassifier:
        """Fit ``temperature`` on held-out data (X, y): the value that minimises the negative
        log-likelihood -mean log p(y | x) of :meth:`predict_proba` (temperature scaling, Guo et
        al. 2017; :func:`toyclf.calibration.fit_temperature`). Sets the ``temperature`` parameter,
        as ``set_params`` would (so ``get_params``, ``clone`` and :meth:`save` keep it), and
        returns self. Decisions do not change; probabilities become calibrated. Use data the
        denoiser was not trained on. Predicting with other trials, pruning, weighting or loss warns.
        """
        check_is_fitted(self)
        y = column_or_1d(y, warn=True)  # a column vector as fit takes it
        check_consistent_length(X, y)
        y = check_known_labels(y, self.classes_)
        errors = self.class_errors(X)
        self.temperature = fit_temperature(errors, np.searchsorted(self.classes_, y), log_prior=self._log_prior())
        self.calibrated_for_ = {name: getattr(self, name) for name in PLAN_PARAMS + ESTIMATOR_PARAMS}
        return self

    def sample(
        self, n_samples: int = 100, *, method: str | None = None, n_steps: int = 50, random_state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n_samples`` points split evenly over the classes (:func:`toyclf.sampling.sample`: DDPM, DDIM
        or Euler; by default DDPM, Euler for ``objective="flow"``): ``X`` (n_samples, n_features) in the
        units of the training data, and ``y``."""
        check_is_fitted(self)
        if not is_int(n_samples, 1):
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        labels = torch.arange(n_samples) % len(self.classes_)  # [n]
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        clip = 1.5 * self.data_bound_  # x0 estimates stay within 1.5 times the training data's range
        x0 = sample(self.denoiser_, labels, method=method, n_steps=n_steps, clip=clip, seed=seed, progress=self.verbose)
        return self.scaler_.inverse_transform(x0.cpu().numpy().astype(np.float64)), self.classes_[labels.numpy()]

    def save(self, path: str | os.PathLike) -> Path:
        """Save the fitted classifier to ``path``, atomically (:func:`toyclf.saving.save_classifier`)."""
        return save_classifier(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device | None = None) -> DiffusionClassifier:
        """Load a file of :meth:`save` (:func:`toyclf.saving.load_classifier`; ``device`` overrides the saved one)."""
        return load_classifier(cls, path, device=device)

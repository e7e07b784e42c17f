"""``DiffusionClassifier``: a scikit-learn classifier that is a class-conditional diffusion model.

``fit`` standardises X and trains the toy MLP denoiser (:mod:`toyclf.training`); ``predict``,
``predict_proba`` and ``class_errors`` run the Monte Carlo Bayes estimator
(:mod:`toyclf.estimator`) on it. Estimator settings (``n_trials``, ``loss``, ``weighting``,
``temperature``, ...) are read at prediction time, so ``set_params`` changes them without refitting.
"""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from toyclf.calibration import fit_temperature
from toyclf.denoisers.mlp import MLPDenoiser
from toyclf.estimator import LOSSES, NOISE_SAMPLINGS, TIMESTEPS, WEIGHTINGS, class_errors, log_posterior, make_plan
from toyclf.pruning import resolve_pruning
from toyclf.sampling import sample
from toyclf.schedule import NoiseSchedule
from toyclf.training import train_denoiser
from toyclf.utils.checkpoint import load_checkpoint, save_checkpoint
from toyclf.utils.device import resolve_device
from toyclf.utils.validation import is_int, is_positive

SCHEDULES = ("cosine", "linear")
SCALINGS = ("per_feature", "global")
CHECKPOINT_KIND = "DiffusionClassifier"


class DiffusionClassifier(ClassifierMixin, BaseEstimator):
    """Classify with a class-conditional diffusion model: Li et al. (2023), "Your Diffusion Model
    is Secretly a Zero-Shot Classifier", on a small MLP noise predictor trained from scratch.

    ``fit`` trains eps_theta(x_t, t, c) on standardised X. A prediction scores every class on
    the same noise draws (t, eps): err(x, c) = mean_n w(t_n) ||eps_n - eps_theta(x_t, t_n, c)||^2,
    and returns p(c | x) = softmax_c(-err(x, c) / temperature + log p(c)). By default each sample
    gets only as many draws as its decision needs (early stopping, at most ``n_trials``).

    Parameters
    ----------
    hidden_size : int, default=128
        Width of the MLP's residual blocks.
    n_layers : int, default=3
        Number of residual blocks.
    n_frequencies : int, default=16
        Fourier features per input feature (what lets the MLP draw sharp 2D shapes); 0 feeds
        the standardised features in as they are, which suits many features such as pixels.
    feature_scaling : {"per_feature", "global"}, default="per_feature"
        How X is standardised before the denoiser sees it: each feature to mean 0 and variance 1
        (:class:`~sklearn.preprocessing.StandardScaler`), or all features by one mean and one
        standard deviation, which keeps features that share a unit (the pixels of an image) in
        proportion: a faint border pixel is not blown up to the scale of the strokes.
    noise_schedule : {"cosine", "linear"}, default="cosine"
        The forward process the denoiser is trained for.
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
        Monte Carlo (t, eps) pairs per class (the same pairs for every class and point): all of
        them with ``pruning=None``, at most this many with early stopping.
    timesteps : {"even", "random"}, default="even"
        Timesteps evenly spaced over [0, T) (the paper's best), in nested order, or drawn at random.
    noise_sampling : {"sobol", "gaussian", "antithetic"}, default="sobol"
        How the shared noise is drawn: randomised quasi-Monte Carlo (scrambled Sobol, the
        fastest to converge), independent Gaussians (the paper), or antithetic pairs
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
    weighting : {"uniform", "elbo"}, default="uniform"
        w(t): uniform (the paper's best accuracy) or the ELBO weights (errors are then the
        negative ELBO and the posterior at temperature 1 is the model's own).
    temperature : float, default=1.0
        Divides the errors before the softmax; only probabilities change, not argmax over
        classes with equal priors. The ELBO weighting is calibrated by construction
        (temperature 1 is Bayes' rule on the model's likelihoods; a fitted temperature stays
        near 1). Uniform weighting puts the errors on another scale: its probabilities are too
        flat (about five times, on the spirals) until :meth:`calibrate` fits the temperature.
    priors : array-like of shape (n_classes,), default=None
        Class prior probabilities p(c); by default the class frequencies in ``y`` (as
        :class:`sklearn.naive_bayes.GaussianNB`).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the training minibatches and noise, and the prediction plan.
    device : str or torch.device, default="cpu"
        Where the denoiser trains and predicts ("cpu", "cuda", "mps").
    verbose : bool, default=False
        Show progress bars.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,), only when X has feature names
    scaler_ : StandardScaler, the standardisation fitted on X (see ``feature_scaling``)
    denoiser_ : MLPDenoiser, the trained noise predictor
    loss_curve_ : list of float, the training loss at every step
    n_iter_ : int, the number of training steps taken
    plan_seed_ : int, the seed of the prediction plan (fixed at fit, so predictions are repeatable)
    data_bound_ : float, the largest |value| of the standardised training data; :meth:`sample`
        clips its estimates of x0 to 1.5 times it

    Examples
    --------
    >>> from toyclf import DiffusionClassifier, make_spirals
    >>> X, y = make_spirals(n_samples=2000, noise=0.2, random_state=0)
    >>> clf = DiffusionClassifier(random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X[:2])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        hidden_size: int = 128,
        n_layers: int = 3,
        n_frequencies: int = 16,
        feature_scaling: str = "per_feature",
        noise_schedule: str = "cosine",
        schedule_shift: float = 4.0,
        n_timesteps: int = 1000,
        max_iter: int = 3000,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        n_trials: int = 256,
        timesteps: str = "even",
        noise_sampling: str = "sobol",
        pruning: Any = "early_stopping",
        loss: str = "l2",
        weighting: str = "uniform",
        temperature: float = 1.0,
        priors: Any = None,
        random_state: int | np.random.RandomState | None = None,
        device: str | torch.device = "cpu",
        verbose: bool = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_frequencies = n_frequencies
        self.feature_scaling = feature_scaling
        self.noise_schedule = noise_schedule
        self.schedule_shift = schedule_shift
        self.n_timesteps = n_timesteps
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_trials = n_trials
        self.timesteps = timesteps
        self.noise_sampling = noise_sampling
        self.pruning = pruning
        self.loss = loss
        self.weighting = weighting
        self.temperature = temperature
        self.priors = priors
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # --- validation ---------------------------------------------------------------------
    def _check_param(self, name: str, ok: bool, expected: str) -> None:
        if not ok:
            raise ValueError(
                f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                f"Got {getattr(self, name)!r} instead."
            )

    def _validate_params(self, *, fitting: bool) -> None:
        """Check the parameters (sklearn's wording). Training ones only matter for ``fit``."""
        check = self._check_param
        if fitting:
            check("hidden_size", is_int(self.hidden_size, 1), "an int in the range [1, inf)")
            check("n_layers", is_int(self.n_layers, 0), "an int in the range [0, inf)")
            check("n_frequencies", is_int(self.n_frequencies, 0), "an int in the range [0, inf)")
            check("feature_scaling", self.feature_scaling in SCALINGS, f"a str among {set(SCALINGS)}")
            check("noise_schedule", self.noise_schedule in SCHEDULES, f"a str among {set(SCHEDULES)}")
            check("schedule_shift", is_positive(self.schedule_shift), "a float in the range (0, inf)")
            check("n_timesteps", is_int(self.n_timesteps, 2), "an int in the range [2, inf)")
            check("max_iter", is_int(self.max_iter, 1), "an int in the range [1, inf)")
            check("batch_size", is_int(self.batch_size, 1), "an int in the range [1, inf)")
            check("learning_rate", is_positive(self.learning_rate), "a float in the range (0, inf)")
            check("verbose", isinstance(self.verbose, (bool, np.bool_)), "a bool")
        check("n_trials", is_int(self.n_trials, 1), "an int in the range [1, inf)")
        check("timesteps", self.timesteps in TIMESTEPS, f"a str among {set(TIMESTEPS)}")
        check("noise_sampling", self.noise_sampling in NOISE_SAMPLINGS, f"a str among {set(NOISE_SAMPLINGS)}")
        try:
            resolve_pruning(self.pruning)
        except ValueError:
            check("pruning", False, "None, 'early_stopping', 'staged', or a pruning rule object")
        check("loss", self.loss in LOSSES, f"a str among {set(LOSSES)}")
        check("weighting", self.weighting in WEIGHTINGS, f"a str among {set(WEIGHTINGS)}")
        check("temperature", is_positive(self.temperature), "a float in the range (0, inf)")

    def _class_prior(self, counts: np.ndarray) -> np.ndarray:
        if self.priors is None:
            return counts / counts.sum()
        priors = np.asarray(self.priors, dtype=np.float64)
        if priors.shape != counts.shape:
            raise ValueError(f"Number of priors ({priors.size}) must match the number of classes ({counts.size}).")
        if not np.all(np.isfinite(priors)) or np.any(priors < 0):
            raise ValueError(f"Priors must be non-negative and finite; got {priors.tolist()}.")
        if not np.isclose(priors.sum(), 1.0):
            raise ValueError(f"The sum of the priors should be 1; got {priors.sum():.6g}.")
        return priors

    # --- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> DiffusionClassifier:
        """Train the class-conditional denoiser on (X, y). X: (n_samples, n_features); y: any labels."""
        self._validate_params(fitting=True)
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got 1 class: {self.classes_.tolist()}."
            )
        self.class_prior_ = self._class_prior(counts)
        device = resolve_device(self.device)

        rng = check_random_state(self.random_state)
        init_seed, train_seed, self.plan_seed_ = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))
        self.scaler_ = StandardScaler().fit(X)
        if self.feature_scaling == "global":  # one mean and one scale for every feature
            self.scaler_.mean_[:], self.scaler_.scale_[:] = X.mean(), X.std() or 1.0  # constant X: as sklearn
            self.scaler_.var_ = self.scaler_.scale_**2
        self.data_bound_ = float(np.abs(self.scaler_.transform(X)).max())
        schedule = NoiseSchedule.from_name(self.noise_schedule, self.n_timesteps, shift=float(self.schedule_shift))
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG left as it was
            torch.manual_seed(init_seed)
            denoiser = MLPDenoiser(
                X.shape[1],
                len(self.classes_),
                schedule,
                hidden_size=self.hidden_size,
                n_layers=self.n_layers,
                n_frequencies=self.n_frequencies,
            )
        self.denoiser_ = denoiser.to(device)
        self.loss_curve_ = train_denoiser(
            self.denoiser_,
            self._to_tensor(X),
            torch.as_tensor(y_index, dtype=torch.long),
            steps=self.max_iter,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            seed=train_seed,
            progress=self.verbose,
        )
        self.n_iter_ = self.max_iter
        return self

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32)

    # --- prediction ---------------------------------------------------------------------
    def class_errors(self, X: Any, *, return_trials: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The Monte Carlo denoising error of every sample under every class, in ``classes_`` order.

        err[i, k] = mean_n w(t_n) loss(eps_n, eps_theta(x_t, t_n, k)) (paper, Algorithm 1): lower is
        likelier; it estimates -log p(x | c) up to a constant. Returns (n_samples, n_classes), and
        with ``return_trials=True`` also the number of (t, eps) trials (denoiser evaluations) each
        sample and class received, (n_samples, n_classes) ints.
        """
        check_is_fitted(self)
        self._validate_params(fitting=False)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        plan = make_plan(
            self.denoiser_,
            self.n_trials,
            timesteps=self.timesteps,
            noise_sampling=self.noise_sampling,
            seed=self.plan_seed_,
        )
        errors, trials = class_errors(
            self.denoiser_,
            self._to_tensor(X),
            plan,
            loss=self.loss,
            weighting=self.weighting,
            pruning=self.pruning,
            log_prior=self._log_prior(),
            temperature=self.temperature,
            progress=self.verbose,
            return_trials=True,
        )
        errors = errors.numpy().astype(np.float64)
        return (errors, trials.numpy()) if return_trials else errors

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
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def calibrate(self, X: Any, y: Any) -> DiffusionClassifier:
        """Fit ``temperature`` on held-out data (X, y): the value that minimises the negative
        log-likelihood -mean log p(y | x) of :meth:`predict_proba` (temperature scaling, Guo et
        al. 2017; :func:`toyclf.calibration.fit_temperature`). Sets the ``temperature`` parameter,
        as ``set_params`` would (so ``get_params``, ``clone`` and :meth:`save` keep it), and
        returns self. Decisions do not change; probabilities become calibrated. Use data the
        denoiser was not trained on.
        """
        check_is_fitted(self)
        y = np.asarray(y)
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels not seen in fit: {unseen.tolist()[:5]}; expected labels among {self.classes_.tolist()}."
            )
        errors = self.class_errors(X)
        self.temperature = fit_temperature(errors, np.searchsorted(self.classes_, y), log_prior=self._log_prior())
        return self

    def sample(
        self, n_samples: int = 100, *, method: str = "ddpm", n_steps: int = 50, random_state: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Generate ``n_samples`` points, split evenly over the classes (DDPM or DDIM sampling).

        Returns ``X`` (n_samples, n_features) in the units of the training data, and ``y``.
        """
        check_is_fitted(self)
        if not is_int(n_samples, 1):
            raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
        labels = torch.arange(n_samples) % len(self.classes_)  # [n]
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        x0 = sample(
            self.denoiser_,
            labels,
            method=method,
            n_steps=n_steps,
            clip=1.5 * self.data_bound_,
            seed=seed,
            progress=self.verbose,
        )
        return self.scaler_.inverse_transform(x0.cpu().numpy().astype(np.float64)), self.classes_[labels.numpy()]

    # --- saving -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save the fitted classifier to ``path`` (a torch file of tensors and plain values only;
        written to a temporary file and then renamed, so an interrupted save leaves no broken file)."""
        check_is_fitted(self)
        classes = self.classes_.tolist()
        if not all(isinstance(c, (str, int, float, bool)) for c in classes):
            raise TypeError("Only classes that are str, int, float or bool can be saved.")
        params = self.get_params()
        if params["priors"] is not None:
            params["priors"] = np.asarray(params["priors"], dtype=np.float64).tolist()
        if not (params["random_state"] is None or isinstance(params["random_state"], Integral)):
            params["random_state"] = None  # a RandomState instance is not saved; plan_seed_ is
        else:
            params["random_state"] = None if params["random_state"] is None else int(params["random_state"])
        params["device"] = str(params["device"])
        payload = {
            "params": params,
            "classes": classes,
            "classes_dtype": self.classes_.dtype.str,
            "class_prior": self.class_prior_.tolist(),
            "feature_names_in": getattr(self, "feature_names_in_", np.array([])).tolist(),
            "scaler_mean": self.scaler_.mean_.tolist(),
            "scaler_scale": self.scaler_.scale_.tolist(),
            "plan_seed": self.plan_seed_,
            "data_bound": self.data_bound_,
            "loss_curve": list(self.loss_curve_),
            "denoiser_config": self.denoiser_.config,
            "alphas_cumprod": self.denoiser_.schedule.alphas_cumprod,
            "state_dict": {k: v.detach().cpu() for k, v in self.denoiser_.state_dict().items()},
        }
        return save_checkpoint(payload, path, kind=CHECKPOINT_KIND)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device | None = None) -> DiffusionClassifier:
        """Load a classifier written by :meth:`save` (no code is unpickled). ``device`` overrides
        the saved one. The loaded model predicts exactly what the saved one did."""
        doc = load_checkpoint(path, kind=CHECKPOINT_KIND)
        try:
            params = dict(doc["params"])
            if device is not None:
                params["device"] = str(device)
            clf = cls(**params)
            clf.classes_ = np.asarray(doc["classes"], dtype=np.dtype(doc["classes_dtype"]))
            clf.class_prior_ = np.asarray(doc["class_prior"], dtype=np.float64)
            clf.n_features_in_ = len(doc["scaler_mean"])
            if doc["feature_names_in"]:
                clf.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
            clf.scaler_ = StandardScaler()
            clf.scaler_.mean_ = np.asarray(doc["scaler_mean"], dtype=np.float64)
            clf.scaler_.scale_ = np.asarray(doc["scaler_scale"], dtype=np.float64)
            clf.scaler_.var_ = clf.scaler_.scale_**2
            clf.scaler_.n_features_in_ = clf.n_features_in_
            clf.plan_seed_ = int(doc["plan_seed"])
            clf.data_bound_ = float(doc["data_bound"])
            clf.loss_curve_ = list(doc["loss_curve"])
            clf.n_iter_ = len(clf.loss_curve_)
            denoiser = MLPDenoiser.from_config(doc["denoiser_config"], NoiseSchedule(doc["alphas_cumprod"]))
            denoiser.load_state_dict(doc["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ValueError(f"{str(path)!r} is a damaged {CHECKPOINT_KIND} checkpoint: {error}") from None
        clf.denoiser_ = denoiser.to(resolve_device(clf.device)).eval()
        return clf

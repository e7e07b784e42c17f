"""toyclf: a diffusion model is secretly a classifier (Li et al., ICCV 2023), small enough to teach.

from toyclf import DiffusionClassifier, make_spirals
X, y = make_spirals(n_samples=2000, noise=0.2, random_state=0)
clf = DiffusionClassifier(random_state=0).fit(X, y)
clf.predict_proba(X[:5])
"""

from toyclf.classifier import DiffusionClassifier
from toyclf.data import make_dataset, make_spirals
from toyclf.denoisers import Denoiser, MLPDenoiser
from toyclf.estimator import TrialPlan, class_errors, log_posterior, make_plan, reference_class_errors
from toyclf.mapping import make_grid, probability_map
from toyclf.paper import PAPER, PAPER_ALGORITHM_2
from toyclf.schedule import NoiseSchedule

__version__ = "0.1.0"

__all__ = [
    "PAPER",
    "PAPER_ALGORITHM_2",
    "Denoiser",
    "DiffusionClassifier",
    "MLPDenoiser",
    "NoiseSchedule",
    "TrialPlan",
    "class_errors",
    "log_posterior",
    "make_dataset",
    "make_grid",
    "make_plan",
    "make_spirals",
    "probability_map",
    "reference_class_errors",
]

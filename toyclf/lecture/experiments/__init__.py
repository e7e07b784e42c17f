"""The lecture's experiments: what the notebooks and figures measure. The estimator's choices taken
apart one at a time (notebook 02, ``python -m toyclf.inside``): the per-trial losses they all read
(:mod:`~toyclf.lecture.experiments.per_trial`), how many trials and which timesteps
(:mod:`~toyclf.lecture.experiments.trials`), shared against independent noise
(:mod:`~toyclf.lecture.experiments.noise_sharing`), the loss and the weighting
(:mod:`~toyclf.lecture.experiments.loss_and_weighting`), the exact check on a Gaussian mixture
(:mod:`~toyclf.lecture.experiments.exact_posterior`), calibration at temperature 1 and fitted
(:mod:`~toyclf.lecture.experiments.calibration_settings`) and the pruning rules over a grid
(:mod:`~toyclf.lecture.experiments.pruning_maps`). Then the classifier beside scikit-learn
baselines (:mod:`~toyclf.lecture.experiments.comparison`), a suite of small problems
(:mod:`~toyclf.lecture.experiments.suite`), and accuracy under corrupted inputs
(:mod:`~toyclf.lecture.experiments.robustness`)."""

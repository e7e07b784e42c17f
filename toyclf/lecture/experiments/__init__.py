"""The lecture's experiments: what the notebooks and figures measure. The estimator's choices
taken apart one at a time (:mod:`~toyclf.lecture.experiments.ablations`), the classifier beside
scikit-learn baselines (:mod:`~toyclf.lecture.experiments.comparison`), and accuracy under corrupted
inputs (:mod:`~toyclf.lecture.experiments.robustness`)."""

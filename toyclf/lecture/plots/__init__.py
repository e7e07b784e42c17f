"""Every figure: decision, posterior and uncertainty maps of 2D data (:mod:`~toyclf.lecture.plots.maps`),
the estimator's ablations (:mod:`~toyclf.lecture.plots.ablations`) and digit images
(:mod:`~toyclf.lecture.plots.digits`). Plots take numbers and draw them; they compute nothing about
the model."""

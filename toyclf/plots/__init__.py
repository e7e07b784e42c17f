"""Every figure: decision, posterior and uncertainty maps of 2D data (:mod:`~toyclf.plots.maps`),
the estimator's ablations (:mod:`~toyclf.plots.ablations`) and digit images
(:mod:`~toyclf.plots.digits`). Plots take numbers and draw them; they compute nothing about
the model."""

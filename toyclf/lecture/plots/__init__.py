"""Every figure: decision, posterior and uncertainty maps of 2D data (:mod:`~toyclf.lecture.plots.maps`,
how to read them in :mod:`~toyclf.lecture.plots.keys`), the estimator's ablations
(:mod:`~toyclf.lecture.plots.ablations`), digit images (:mod:`~toyclf.lecture.plots.digits`) and the
animations (:mod:`~toyclf.lecture.plots.animations`). Figures take numbers and draw them; only the
animations run the model themselves, frame by frame (a map per number of trials, a sampler's
steps), through the core's ``probability_map`` and ``sample``."""

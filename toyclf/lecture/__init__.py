"""The lecture: what the notebooks, figures and animations measure and draw. The experiments
(:mod:`toyclf.lecture.experiments`) compute numbers with the core estimator; the plots
(:mod:`toyclf.lecture.plots`) draw numbers (the animations also run the classifier and the
sampler, frame by frame, through the core). Nothing here uses the pretrained stack."""

"""The lecture: what the notebooks, figures and animations measure and draw. The experiments
(:mod:`toyclf.lecture.experiments`) compute numbers with the core estimator; the plots
(:mod:`toyclf.lecture.plots`) draw numbers and compute nothing about the model. Nothing here
uses the pretrained stack."""

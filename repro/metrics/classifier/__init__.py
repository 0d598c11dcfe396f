"""The offline per-data-set classifier: network, shipped weights, and the scores computed with it."""

from .network import (CLASSIFIER_SPECS, ClassifierSpec, ClassifierWeightsError, LoadedClassifier, SmallCNN,
                      classifier_input, load_classifier)
from .scores import class_coverage, classifier_score

__all__ = ["CLASSIFIER_SPECS", "ClassifierSpec", "ClassifierWeightsError", "LoadedClassifier", "SmallCNN",
           "classifier_input", "load_classifier", "class_coverage", "classifier_score"]

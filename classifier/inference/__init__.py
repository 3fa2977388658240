"""A trained model answering: predictions, evaluation on the test set, calibration, saliency."""

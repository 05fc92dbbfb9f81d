"""DGA detection: names, features, model, training, evaluation, infected-client detection."""

"""Image classifiers to train live and use: datasets, Keras models, training, evaluation.

Importing this package loads no TensorFlow; each module imports Keras when it needs it.
"""

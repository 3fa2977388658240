"""A trained model to take home: a plain-Keras script and metrics, TFLite and ONNX files."""

"""Publishing a trained model: MLflow tracking, the registry and its promotion gate, the pyfunc wrapper, the
training report. Receives a typed :class:`pipeline.publish.result.TrainResult` from the train step."""

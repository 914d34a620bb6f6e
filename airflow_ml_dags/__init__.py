"""What the DAG files import: settings from the environment, the one DockerOperator factory, the sensors (raw data,
model), model references, the train Params and defaults.

Kept light on purpose: DAG files import it at every parse (no mlflow: the model sensor asks MLflow's REST API
with the standard library).
"""

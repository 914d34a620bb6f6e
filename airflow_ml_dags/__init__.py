"""What the DAG files import: settings from the environment, the one DockerOperator factory, sensors and defaults.

Kept light on purpose: DAG files import it at every parse.
"""

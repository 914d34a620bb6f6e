"""The Params of train_model: the train CLI's hyperparameters and validate's quality gate.

Defaults and limits are the images' own (docs/contracts.md, the model library's hyperparameter limits, the
validate CLI's gate options), so a trigger the CLIs would refuse is refused by Airflow before anything runs.
Each Param is passed to its CLI option as ``{{ params.<name> }}``.
"""

from __future__ import annotations

from airflow.sdk import Param

# Metrics the validate image's gate can compare (lower is better only for log_loss).
GATE_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")

# Param name -> train CLI option.
TRAIN_OPTIONS = {
    "model": "--model",
    "epochs": "--epochs",
    "learning_rate": "--learning-rate",
    "batch_size": "--batch-size",
    "hidden": "--hidden",
    "l2": "--l2",
    "max_depth": "--max-depth",
    "min_samples": "--min-samples",
    "seed": "--seed",
}

# Param name -> validate CLI option.
GATE_OPTIONS = {"gate_metric": "--gate-metric", "gate_margin": "--gate-margin"}


def train_params() -> dict[str, Param]:
    """Fresh Param objects for each DAG (a Param holds its value)."""
    return {
        "model": Param("mlp", enum=["mlp", "logreg", "tree"], description="model family"),
        "epochs": Param(
            20, type="integer", minimum=1, maximum=10_000, description="passes over the rows (mlp, logreg)"
        ),
        "learning_rate": Param(
            0.01, type="number", exclusiveMinimum=0, maximum=10, description="Adam learning rate (mlp, logreg)"
        ),
        "batch_size": Param(
            64, type="integer", minimum=1, maximum=1_000_000, description="rows per step (mlp, logreg)"
        ),
        "hidden": Param(32, type="integer", minimum=1, maximum=4096, description="hidden units (mlp)"),
        "l2": Param(0, type="number", minimum=0, maximum=10, description="L2 penalty, 0 for none (mlp, logreg)"),
        "max_depth": Param(6, type="integer", minimum=1, maximum=64, description="deepest split (tree)"),
        "min_samples": Param(5, type="integer", minimum=1, maximum=1_000_000, description="rows of a leaf (tree)"),
        "seed": Param(42, type="integer", minimum=0, maximum=2**31 - 1, description="seed of weights and shuffle"),
    }


def gate_params() -> dict[str, Param]:
    return {
        "gate_metric": Param(
            "roc_auc", enum=list(GATE_METRICS), description="metric the quality gate compares with production"
        ),
        "gate_margin": Param(
            0, type="number", minimum=0, description="how much better than production a new version must be"
        ),
    }


def cli_args(options: dict[str, str]) -> list[str]:
    """``[option, "{{ params.<name> }}", ...]``: rendered per run from the trigger's Params."""
    return [arg for name, option in options.items() for arg in (option, f"{{{{ params.{name} }}}}")]

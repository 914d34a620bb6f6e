"""What the two references of `make bench` share: the command line, the files and their atomic writes, the
stages from the arrays on (scikit-learn's models and metrics, NumPy's drift statistics) and the result lines.

A reference is this module plus a frame layer, a `Frames` that reads and checks the CSV files and writes frames:
pandas (aml_reference.py) or polars (bench/reference-polars/aml_polars.py). Everything the layer hands over is
a NumPy array, so the two references train, score and measure with one definition and differ only where a
user of each library would: reading, joining, selecting and writing the rows.

Same subcommands, options, files and checks as the task images (docs/contracts.md), so the benchmark can time
both on the same inputs. The models are scikit-learn's: MLPClassifier with the same layout, optimizer and
epochs as the tfjs MLP, the same network without its hidden layer for logreg (a sigmoid unit trained by Adam,
which is what the tfjs logreg is), DecisionTreeClassifier for the tree. A model folder holds model.joblib (the
fitted imputer, scaler and model) and manifest.json. monitor writes the monitor image's report.json, numbers
and layout, but neither its report page with charts nor the index of days: the benchmark compares the
measuring, not the rendering.

Like the images: the last stdout line is one JSON result, a failure prints one line naming the file and the
problem (exit 1; 2 for a bad command line), and every output is written aside and renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
import warnings
from datetime import date, timedelta

import joblib
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

ID, TARGET = "id", "target"
MODEL_FILE, MANIFEST, METRICS = "model.joblib", "manifest.json", "metrics.json"
LOG_LOSS_EPS = 1e-15


class InputError(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def check_header(path: str, header: list[str], *, with_target: bool, expected: list[str] | None) -> list[str]:
    """The feature columns of a file's header, or the input error both frame layers give for it."""
    if header[0] != ID:
        raise InputError(path, f'first column must be "{ID}", got "{header[0]}"')
    has_target = TARGET in header
    if with_target and not has_target:
        raise InputError(path, f'missing column "{TARGET}"')
    if not with_target and has_target:
        raise InputError(path, f'unexpected column "{TARGET}"')
    if has_target and header[-1] != TARGET:
        raise InputError(path, f'"{TARGET}" must be the last column')
    columns = header[1:-1] if has_target else header[1:]
    if not columns:
        raise InputError(path, "no feature columns")
    if expected is not None and columns != expected:
        missing = [c for c in expected if c not in columns]
        extra = [c for c in columns if c not in expected]
        parts = ([f"missing columns {', '.join(missing)}"] if missing else []) + (
            [f"unexpected columns {', '.join(extra)}"] if extra else []
        )
        raise InputError(path, "; ".join(parts) or f"columns out of order: expected {','.join(expected)}")
    return columns


# ---- the frame layer -------------------------------------------------------------------------------------------


class Frames:
    """The frame layer: all a reference does with its data-frame library. A frame is the library's own; the
    checks and messages are the task images' (docs/contracts.md), row numbers counting the header as row 1."""

    #: The library's frame class: `write_*` write these as CSV, text as text and anything else with joblib.
    frame_type: type = object

    def read_frame(self, path: str, *, with_target: bool, expected: list[str] | None = None) -> tuple[object, list[str]]:
        """An `id, features…[, target]` file, checked: ids as text, features float64 (empty cells missing), the
        target 0/1. Returns the frame and its feature columns."""
        raise NotImplementedError

    def column(self, df: object, name: str) -> np.ndarray:
        """One column as a NumPy array (float64 with NaN for a missing feature; the target as int8)."""
        raise NotImplementedError

    def matrix(self, df: object, columns: list[str]) -> np.ndarray:
        """The features as one float64 matrix, NaN where missing."""
        raise NotImplementedError

    def write_csv(self, df: object, path: str) -> None:
        """Missing cells empty, "\\n" line ends, no index."""
        raise NotImplementedError

    def generated(self, ids: list[str], names: list[str], x: np.ndarray, label: np.ndarray) -> tuple[object, object]:
        """generate's data and target frames (NaN in x is a missing cell)."""
        raise NotImplementedError

    def prepare(self, args: argparse.Namespace) -> dict:
        """The join of the last --days days' data and target files, rows with every feature missing dropped."""
        raise NotImplementedError

    def rows_where(self, df: object, mask: np.ndarray) -> tuple[object, object]:
        """(rows where mask is False, rows where it is True), each in the frame's order."""
        raise NotImplementedError

    def predictions(self, df: object, prob: np.ndarray, label: np.ndarray) -> object:
        """predict's output frame: df's ids, the probabilities and the labels."""
        raise NotImplementedError

    def read_scored_day(self, predictions_path: str, target_path: str) -> tuple[np.ndarray, np.ndarray]:
        """The day's predictions joined to its labels by id (every prediction needs a label and every label a
        prediction): the labels and the probabilities, row for row."""
        raise NotImplementedError


# ---- paths and atomic writes ---------------------------------------------------------------------------------


def paths(data_dir: str, ds: str) -> dict[str, str]:
    raw, processed = os.path.join(data_dir, "raw", ds), os.path.join(data_dir, "processed", ds)
    predictions = os.path.join(data_dir, "predictions", ds)
    return {
        "raw_dir": raw,
        "data": os.path.join(raw, "data.csv"),
        "target": os.path.join(raw, "target.csv"),
        "train_data": os.path.join(processed, "train_data.csv"),
        "train": os.path.join(processed, "train.csv"),
        "val": os.path.join(processed, "val.csv"),
        "model_dir": os.path.join(data_dir, "models", ds),
        "predictions_dir": predictions,
        "predictions": os.path.join(predictions, "predictions.csv"),
    }


def _tmp(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{os.urandom(4).hex()}")



def _write(fr: Frames, path: str, content: object) -> None:
    if isinstance(content, fr.frame_type):
        fr.write_csv(content, path)
    elif isinstance(content, str):
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
    else:
        joblib.dump(content, path)


def write_files_atomic(fr: Frames, files: list[tuple[str, object]]) -> None:
    """(path, frame or text) pairs: every temp file first, then the renames, so readers see all or none."""
    staged: list[tuple[str, str]] = []
    try:
        for path, content in files:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = _tmp(path)
            staged.append((tmp, path))
            _write(fr, tmp, content)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise


def replace_dir_atomic(fr: Frames, directory: str, files: dict[str, object]) -> None:
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    tmp = _tmp(directory)
    os.mkdir(tmp)
    try:
        for name, content in files.items():
            _write(fr, os.path.join(tmp, name), content)
        old = f"{tmp}.old"
        had_old = os.path.isdir(directory)
        if had_old:
            os.rename(directory, old)
        os.rename(tmp, directory)
        if had_old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

def dumps(obj: object) -> str:
    return json.dumps(obj, indent=2) + "\n"



# ---- stages -----------------------------------------------------------------------------------------------------

EPOCH = date(2026, 1, 1)


def generate(args: argparse.Namespace, fr: Frames) -> dict:
    """Same layout and the same drifting concept as the generate image (not the same random stream)."""
    p = paths(args.data_dir, args.ds)
    rows, features, missing_rate = args.rows, args.features, args.missing_rate
    seed = int.from_bytes(hashlib.sha256(f"generate/{args.ds}/{rows}/{features}/{missing_rate}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    informative = [j for j in range(features) if j % 5 in (0, 2)]
    w = np.zeros(features)
    for k, j in enumerate(informative):
        w[j] = (1 if k % 2 == 0 else -1) * (1.1 - 0.6 * k / max(1, len(informative)))
    t = (date.fromisoformat(args.ds) - EPOCH).days
    means = 0.75 * np.sin(2 * np.pi * (t / 365 + np.arange(features) / features))
    intercept = -0.2 + 0.9 * math.sin(2 * math.pi * t / 200)
    x = means + rng.standard_normal((rows, features))
    logit = intercept + x @ w
    if features > 3:
        logit += 0.8 * x[:, 1] * x[:, 3]
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    x = np.round(x, 6)
    missing = rng.random((rows, features)) < missing_rate if missing_rate > 0 else np.zeros((rows, features), bool)
    x[missing] = np.nan
    day = args.ds.replace("-", "")
    ids = [f"{day}-{i + 1:06d}" for i in range(rows)]
    names = [f"f{j:02d}" for j in range(features)]
    data, target = fr.generated(ids, names, x, label)
    replace_dir_atomic(fr, p["raw_dir"], {"data.csv": data, "target.csv": target})
    return {"ds": args.ds, "rows": rows, "features": features, "outputs": [p["data"], p["target"]],
            "positive_rate": round(float(label.mean()), 4), "missing_cells": int(missing.sum())}


def last_days(ds: str, n: int) -> list[str]:
    end = date.fromisoformat(ds)
    return [(end - timedelta(days=n - 1 - i)).isoformat() for i in range(n)]


def split(args: argparse.Namespace, fr: Frames) -> dict:
    if not 0 < args.val_fraction < 1:
        usage(f"--val-fraction: expected a number between 0 and 1 (both excluded), got {args.val_fraction}")
    p = paths(args.data_dir, args.ds)
    df, _ = fr.read_frame(p["train_data"], with_target=True)
    y = fr.column(df, TARGET)
    for label in (0, 1):
        n = int((y == label).sum())
        if n < 2:
            raise InputError(p["train_data"], f"{n} row(s) of target {label}: a stratified split needs at least 2")
    train_idx, val_idx = train_test_split(
        np.arange(len(df)), test_size=args.val_fraction, stratify=y, random_state=args.seed % 2**32
    )
    in_val = np.zeros(len(df), dtype=bool)
    in_val[val_idx] = True
    train, val = fr.rows_where(df, in_val)
    write_files_atomic(fr, [(p["train"], train), (p["val"], val)])
    return {"ds": args.ds, "rows": len(df), "train_rows": len(train), "val_rows": len(val), "seed": args.seed,
            "outputs": [p["train"], p["val"]]}


def build_model(args: argparse.Namespace):
    if args.model == "tree":
        # ml-cart makes a leaf of a node with min-samples rows or fewer: scikit-learn splits from one more.
        return DecisionTreeClassifier(max_depth=args.max_depth, min_samples_split=max(2, args.min_samples + 1),
                                      random_state=args.seed)
    hidden = (args.hidden,) if args.model == "mlp" else ()
    # Exactly `epochs` passes: no early stopping, no tolerance to stop on.
    return MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", alpha=args.l2,
                         batch_size=args.batch_size, learning_rate_init=args.learning_rate, max_iter=args.epochs,
                         shuffle=True, random_state=args.seed, tol=0.0, n_iter_no_change=args.epochs + 1)


def train(args: argparse.Namespace, fr: Frames) -> dict:
    p = paths(args.data_dir, args.ds)
    df, columns = fr.read_frame(p["train"], with_target=True)
    x, y = fr.matrix(df, columns), fr.column(df, TARGET)
    empty = [c for c, n in zip(columns, np.isnan(x).all(axis=0)) if n]
    if empty:
        raise InputError(p["train"], f'column "{empty[0]}" has no values: nothing to impute from')
    if y.min() == y.max():
        raise InputError(p["train"], f'"{TARGET}" holds only class {int(y[0])}: training needs both classes')
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), build_model(args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    est = model[-1]
    history = [float(v) for v in getattr(est, "loss_curve_", [])]
    hyperparams = {k: getattr(args, k) for k in ("model", "epochs", "learning_rate", "batch_size", "hidden", "l2",
                                                 "max_depth", "min_samples", "seed")}
    manifest = {"ds": args.ds, "family": args.model, "hyperparams": hyperparams, "columns": columns, "rows": len(df),
                "positiveRate": float(y.mean()), "history": {"epochs": len(history), "losses": history}}
    replace_dir_atomic(fr, p["model_dir"], {MODEL_FILE: model, MANIFEST: dumps(manifest)})
    return {"ds": args.ds, "family": args.model, "rows": len(df), "finalLoss": history[-1] if history else None,
            "modelDir": p["model_dir"]}


def load_model(model_dir: str):
    manifest_path = os.path.join(model_dir, MANIFEST)
    if not os.path.isdir(model_dir):
        raise InputError(model_dir, "model folder not found")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise InputError(manifest_path, "file not found") from None
    except json.JSONDecodeError as err:
        raise InputError(manifest_path, f"not valid JSON ({err})") from None
    model_path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(model_path):
        raise InputError(model_path, "file not found")
    return manifest, joblib.load(model_path)


def model_dir_of(args: argparse.Namespace, default: str) -> str:
    given = getattr(args, "model_dir", None) or getattr(args, "model", None)
    if not given:
        return default
    return given if os.path.isabs(given) else os.path.join(args.data_dir, given)


def validate(args: argparse.Namespace, fr: Frames) -> dict:
    p = paths(args.data_dir, args.ds)
    model_dir = model_dir_of(args, p["model_dir"])
    manifest, model = load_model(model_dir)
    df, columns = fr.read_frame(p["val"], with_target=True, expected=manifest["columns"])
    y = fr.column(df, TARGET)
    prob = model.predict_proba(fr.matrix(df, columns))[:, 1]
    pred = (prob >= args.threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    pc = np.clip(prob, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    metrics = {
        "rows": len(y), "positive_rate": float(y.mean()), "threshold": args.threshold,
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, prob)) if 0 < y.sum() < len(y) else None,
        "log_loss": float(np.mean(np.where(y == 1, -np.log(pc), -np.log(1 - pc)))),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }
    out = {"ds": manifest["ds"], "family": manifest["family"], "val_ds": args.ds, **metrics, "registry": None}
    metrics_path = os.path.join(model_dir, METRICS)
    write_files_atomic(fr, [(metrics_path, dumps(out))])
    return {"ds": args.ds, "model_dir": model_dir, "outputs": [metrics_path], "metrics": out}


def predict(args: argparse.Namespace, fr: Frames) -> dict:
    p = paths(args.data_dir, args.ds)
    model_dir = model_dir_of(args, p["model_dir"])
    manifest, model = load_model(model_dir)
    df, columns = fr.read_frame(p["data"], with_target=False, expected=manifest["columns"])
    prob = np.round(model.predict_proba(fr.matrix(df, columns))[:, 1], 6)
    # The label follows the probability as written, as in the predict image.
    label = (prob >= args.threshold).astype(np.int8)
    out = fr.predictions(df, prob, label)
    manifest_path = os.path.join(p["predictions_dir"], MANIFEST)
    pm = {"ds": args.ds, "model_ref": args.model, "model_version": None, "run_id": None, "model_ds": manifest["ds"],
          "family": manifest["family"], "rows": len(out), "threshold": args.threshold}
    write_files_atomic(fr, [(p["predictions"], out), (manifest_path, dumps(pm))])
    return {"ds": args.ds, "rows": len(out), "positiveRate": float(label.mean()), "output": p["predictions"],
            "outputs": [p["predictions"], manifest_path], "modelDir": model_dir}


# ---- monitor ------------------------------------------------------------------------------------------------
# The drift statistics are the monitor image's definitions (images/monitor/src/drift.ts), step for step and in
# the same order of floating-point operations, so that the two reports can be compared number for number.

PSI_FLOOR = 1e-4
PREDICTION_COLUMNS = [ID, "probability", "label"]


def read_json_object(path: str) -> dict:
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise InputError(path, "expected a JSON object")
    return value


def check_profile(path: str, where: str, c: object) -> None:
    if not isinstance(c, dict) or not all(isinstance(c.get(k), int) and c[k] >= 0 for k in ("count", "missing")):
        raise InputError(path, f'{where} "count" and "missing" must be counts')
    if c["count"] == 0:
        return
    q = c.get("quantiles")
    if not isinstance(q, list) or len(q) != 101 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in q):
        raise InputError(path, f'{where} "quantiles" must be 101 finite numbers')
    if any(b < a for a, b in zip(q, q[1:])):
        raise InputError(path, f'{where} "quantiles" must not decrease')


def profile_cdf(quantiles: np.ndarray, x: np.ndarray, left: bool = False) -> np.ndarray:
    """The piecewise-linear CDF through (quantiles[i], i/100), right-continuous; `left`: its limit from below."""
    last = len(quantiles) - 1
    i = np.searchsorted(quantiles, x, side="left" if left else "right") - 1
    k = np.clip(i, 0, last - 1)
    lo, hi = quantiles[k], quantiles[k + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (k + (x - lo) / (hi - lo)) / last
    return np.where(i < 0, 0.0, np.where(i >= last, 1.0, inner))


def decile_edges(quantiles: np.ndarray) -> np.ndarray:
    edges: list[float] = []
    for k in range(1, 10):
        e = float(quantiles[k * 10])
        if not edges or e > edges[-1]:
            edges.append(e)
    return np.array(edges)


def psi(quantiles: np.ndarray, day: np.ndarray) -> float:
    edges = decile_edges(quantiles)
    n = len(day)
    counts = np.searchsorted(day, edges, side="right")
    actual = [float(c) / n for c in np.diff(np.concatenate([[0], counts, [n]]))]
    expected = [float(c) for c in np.diff(np.concatenate([[0.0], profile_cdf(quantiles, edges), [1.0]]))]
    total = 0.0
    for a, e in zip(actual, expected):
        a, e = max(a, PSI_FLOOR), max(e, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def ks(quantiles: np.ndarray, day: np.ndarray) -> float:
    """sup |F_train − F_day|: reached at the day's values or the profile's quantiles, from one side or the other."""
    n = len(day)
    first = np.flatnonzero(np.concatenate([[True], day[1:] != day[:-1]]))
    values, below = day[first], first
    at_or_below = np.append(first[1:], n)
    sup = max(np.abs(profile_cdf(quantiles, values, left=True) - below / n).max(),
              np.abs(profile_cdf(quantiles, values) - at_or_below / n).max(),
              np.abs(profile_cdf(quantiles, quantiles, left=True) - np.searchsorted(day, quantiles, "left") / n).max(),
              np.abs(profile_cdf(quantiles, quantiles) - np.searchsorted(day, quantiles, "right") / n).max())
    return float(sup)


def column_drift(profile: dict, values: np.ndarray) -> tuple[float | None, float | None, int]:
    present = np.sort(values[~np.isnan(values)])
    if profile["count"] == 0 or len(present) == 0:
        return None, None, len(present)
    q = np.asarray(profile["quantiles"], dtype=np.float64)
    return psi(q, present), ks(q, present), len(present)


def quality_of(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict:
    pred = (prob >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    pc = np.clip(prob, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return {
        "roc_auc": float(roc_auc_score(y, prob)) if 0 < y.sum() < len(y) else None,
        "log_loss": float(np.mean(np.where(y == 1, -np.log(pc), -np.log(1 - pc)))),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "positive_rate_predicted": (tp + fp) / len(y),
        "positive_rate_actual": float(y.mean()),
    }


def monitor(args: argparse.Namespace, fr: Frames) -> dict:
    """monitoring/{ds}/report.json as the monitor image writes it; no report page (the image's charts are its own)."""
    p = paths(args.data_dir, args.ds)
    manifest_path = os.path.join(p["predictions_dir"], MANIFEST)
    manifest = read_json_object(manifest_path)
    if not isinstance(manifest.get("model_ds"), str):
        raise InputError(manifest_path, '"model_ds" must be a date YYYY-MM-DD')
    model_dir = paths(args.data_dir, manifest["model_ds"])["model_dir"]
    profile_path, metrics_path = os.path.join(model_dir, "profile.json"), os.path.join(model_dir, METRICS)
    profile = read_json_object(profile_path)
    if profile.get("version") != 1 or not isinstance(profile.get("features"), dict):
        raise InputError(profile_path, "expected a version 1 profile with a \"features\" object")
    for name, c in profile["features"].items():
        check_profile(profile_path, f"features.{name}", c)
    val = read_json_object(metrics_path)
    if "scores" not in val:
        raise InputError(metrics_path, 'no "scores" profile of the validation probabilities')
    check_profile(metrics_path, '"scores"', val["scores"])
    y, prob = fr.read_scored_day(p["predictions"], p["target"])
    columns = list(profile["features"])
    data, _ = fr.read_frame(p["data"], with_target=False, expected=columns)

    quality = quality_of(y, prob, float(manifest["threshold"]))
    cm = val["confusion_matrix"]
    val_rows = cm["tn"] + cm["fp"] + cm["fn"] + cm["tp"]
    validation = {k: val[k] for k in ("roc_auc", "log_loss", "accuracy", "precision", "recall")}
    validation |= {"positive_rate_predicted": 0 if val_rows == 0 else (cm["tp"] + cm["fp"]) / val_rows,
                   "positive_rate_actual": val["positive_rate"]}
    features = {}
    rows = len(data)
    for name in columns:
        c = profile["features"][name]
        f_psi, f_ks, present = column_drift(c, fr.column(data, name))
        cells = c["count"] + c["missing"]
        features[name] = {"psi": f_psi, "ks": f_ks, "missing_rate": (rows - present) / rows,
                          "train_missing_rate": 0 if cells == 0 else c["missing"] / cells}
    s_psi, s_ks, _ = column_drift(val["scores"], prob)
    thresholds = {"psi_threshold": args.psi_threshold, "auc_drop": args.auc_drop,
                  "min_roc_auc": None if validation["roc_auc"] is None else validation["roc_auc"] - args.auc_drop}
    alarms = [{"metric": "psi", "value": f["psi"], "threshold": args.psi_threshold, "subject": name}
              for name, f in features.items() if f["psi"] is not None and f["psi"] > args.psi_threshold]
    if s_psi > args.psi_threshold:
        alarms.append({"metric": "psi", "value": s_psi, "threshold": args.psi_threshold, "subject": "scores"})
    if quality["roc_auc"] is not None and thresholds["min_roc_auc"] is not None and quality["roc_auc"] < thresholds["min_roc_auc"]:
        alarms.append({"metric": "roc_auc", "value": quality["roc_auc"], "threshold": thresholds["min_roc_auc"],
                       "subject": "quality"})
    verdict = "ok" if not alarms else "quality drop" if any(a["subject"] == "quality" for a in alarms) else "drift"
    report = {
        "ds": args.ds,
        "model": {"ref": manifest.get("model_ref"), "version": manifest.get("model_version"),
                  "model_ds": manifest["model_ds"], "run_id": manifest.get("run_id")},
        "rows": len(y), "quality": quality, "validation": validation,
        "drift": {"features": features, "scores": {"psi": s_psi, "ks": s_ks}},
        "thresholds": thresholds, "alarms": alarms, "verdict": verdict,
    }
    with_psi = [(name, f["psi"]) for name, f in features.items() if f["psi"] is not None]
    best = max(with_psi, key=lambda kv: kv[1], default=(None, None))
    report_path = os.path.join(args.data_dir, "monitoring", args.ds, "report.json")
    write_files_atomic(fr, [(report_path, dumps(report))])
    return {"ds": args.ds, "verdict": verdict, "alarms": alarms, "model_version": report["model"]["version"],
            "roc_auc": quality["roc_auc"], "max_psi": {"feature": best[0], "value": best[1]}, "rows": len(y),
            "outputs": [report_path]}


# ---- command line -----------------------------------------------------------------------------------------------


def usage(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


def parse_args(argv: list[str], prog: str, description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog, description=description)
    sub = ap.add_subparsers(dest="stage", required=True)

    def command(name: str, func, help_text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text)
        c.set_defaults(func=func)
        c.add_argument("--ds", required=True, type=lambda s: date.fromisoformat(s).isoformat() and s)
        c.add_argument("--data-dir", default="/data")
        return c

    c = command("generate", generate, "raw/{ds}/data.csv and target.csv")
    c.add_argument("--rows", type=int, default=5000)
    c.add_argument("--features", type=int, default=20)
    c.add_argument("--missing-rate", type=float, default=0.002)
    c = command("prepare", lambda args, fr: fr.prepare(args), "join data and target: processed/{ds}/train_data.csv")
    c.add_argument("--days", type=int, default=1)
    c = command("split", split, "stratified train.csv and val.csv")
    c.add_argument("--val-fraction", type=float, default=0.2)
    c.add_argument("--seed", type=int, default=42)
    c = command("train", train, "models/{ds}/")
    c.add_argument("--model", choices=("mlp", "logreg", "tree"), default="mlp")
    c.add_argument("--epochs", type=int, default=20)
    c.add_argument("--learning-rate", type=float, default=0.01)
    c.add_argument("--batch-size", type=int, default=64)
    c.add_argument("--hidden", type=int, default=32)
    c.add_argument("--l2", type=float, default=0.0)
    c.add_argument("--max-depth", type=int, default=6)
    c.add_argument("--min-samples", type=int, default=5)
    c.add_argument("--seed", type=int, default=42)
    c = command("validate", validate, "models/{ds}/metrics.json")
    c.add_argument("--model-dir")
    c.add_argument("--threshold", type=float, default=0.5)
    c = command("predict", predict, "predictions/{ds}/predictions.csv")
    c.add_argument("--model", required=True, help="model folder, absolute or relative to the data folder")
    c.add_argument("--threshold", type=float, default=0.5)
    c = command("monitor", monitor, "monitoring/{ds}/report.json")
    c.add_argument("--psi-threshold", type=float, default=0.2)
    c.add_argument("--auc-drop", type=float, default=0.05)
    return ap.parse_args(argv)


def main(argv: list[str], fr: Frames, prog: str, description: str) -> int:
    args = parse_args(argv, prog, description)
    start = time.perf_counter()
    try:
        result = args.func(args, fr)
    except InputError as err:
        print(str(err), file=sys.stderr)
        return 1
    print(json.dumps({"status": "ok", "stage": args.stage, **result, "seconds": round(time.perf_counter() - start, 3)}))
    return 0


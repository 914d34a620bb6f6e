"""The pipeline's stages written the way a pandas + scikit-learn user would, for `make bench`: the pandas frame
layer of the references (aml_core.py has the rest and says what the two references share)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

from aml_core import ID, PREDICTION_COLUMNS, TARGET, Frames, InputError, check_header, last_days, main, paths, write_files_atomic


# ---- reading and checking CSV files -----------------------------------------------------------------------------


def read_csv(path: str) -> pd.DataFrame:
    """ids as text, every other column as float64; only an empty cell is missing ("NA", "nan" are refused)."""
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise InputError(path, "file is empty")
    try:
        df = pd.read_csv(path, dtype={ID: str}, keep_default_na=False, na_values=[""], skip_blank_lines=True)
    except pd.errors.ParserError as err:
        raise InputError(path, f"malformed CSV ({str(err).strip()})") from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "file is empty") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.columns.duplicated().any():
        raise InputError(path, f'duplicate column "{df.columns[df.columns.duplicated()][0]}"')
    return df


def check_numeric(path: str, df: pd.DataFrame, columns: list[str]) -> None:
    for col in columns:
        s = df[col]
        if s.dtype.kind not in "fi":
            numeric = pd.to_numeric(s, errors="coerce")
            bad = numeric.isna() & s.notna()
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(path, f'row {i + 2}, column "{col}": not a finite number ("{s.iloc[i]}")')
        inf = np.isinf(s.to_numpy(dtype=float))
        if inf.any():
            i = int(np.flatnonzero(inf)[0])
            raise InputError(path, f'row {i + 2}, column "{col}": not a finite number')


def check_ids(path: str, ids: pd.Series) -> None:
    empty = (ids.isna() | (ids.str.strip() == "")).to_numpy()
    if empty.any():
        raise InputError(path, f"row {int(np.flatnonzero(empty)[0]) + 2}: empty id")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = ids.iloc[rows[0]]
        second = rows[1:][ids.iloc[rows[1:]].to_numpy() == first][0]
        raise InputError(path, f'duplicate id "{first}" in rows {rows[0] + 2} and {second + 2}')


def check_target(path: str, s: pd.Series) -> np.ndarray:
    values = s.to_numpy()
    ok = np.isin(values, [0, 1]) if s.dtype.kind in "fi" else np.zeros(len(values), dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(path, f'row {i + 2}, column "{TARGET}": target must be 0 or 1, got "{values[i]}"')
    return values.astype(np.int8)


def read_frame(path: str, *, with_target: bool, expected: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    df = read_csv(path)
    header = list(df.columns)
    columns = check_header(path, header, with_target=with_target, expected=expected)
    has_target = TARGET in header
    if len(df) == 0:
        raise InputError(path, "no data rows (header only)")
    check_numeric(path, df, columns)
    check_ids(path, df[ID])
    if has_target:
        df[TARGET] = check_target(path, df[TARGET])
    return df, columns


# ---- stages -----------------------------------------------------------------------------------------------------

def prepare(fr: Frames, args: argparse.Namespace) -> dict:
    frames, columns = [], None
    for day in last_days(args.ds, args.days):
        p = paths(args.data_dir, day)
        data, cols = read_frame(p["data"], with_target=False, expected=columns)
        columns = cols
        target, _ = read_frame_target(p["target"])
        if len(target) != len(data):
            raise InputError(p["target"], f"has {len(target)} rows but {p['data']} has {len(data)}")
        unmatched = ~data[ID].isin(target[ID])
        if unmatched.any():
            raise InputError(p["target"], f'no row for id "{data[ID][unmatched].iloc[0]}" of {p["data"]}')
        frames.append(data.merge(target, on=ID, how="left", validate="one_to_one"))
    joined = pd.concat(frames, ignore_index=True)
    check_ids(paths(args.data_dir, args.ds)["data"], joined[ID])
    keep = joined[columns].notna().any(axis=1)
    out = joined[keep]
    if len(out) == 0:
        raise InputError(paths(args.data_dir, args.ds)["data"], f"every row has all {len(columns)} features missing")
    target_path = paths(args.data_dir, args.ds)["train_data"]
    write_files_atomic(fr, [(target_path, out)])
    return {"ds": args.ds, "days": last_days(args.ds, args.days), "rows_in": len(joined), "rows_out": len(out),
            "dropped_all_missing": int((~keep).sum()), "missing": {c: int(n) for c, n in out[columns].isna().sum().items()},
            "positive_rate": round(float(out[TARGET].mean()), 4), "outputs": [target_path]}


def read_frame_target(path: str) -> tuple[pd.DataFrame, None]:
    df = read_csv(path)
    if list(df.columns) != [ID, TARGET]:
        raise InputError(path, f'expected columns "{ID},{TARGET}", got "{",".join(df.columns)}"')
    if len(df) == 0:
        raise InputError(path, "no data rows (header only)")
    check_ids(path, df[ID])
    df[TARGET] = check_target(path, df[TARGET])
    return df, None


def read_scored_day(predictions_path: str, target_path: str) -> tuple[np.ndarray, np.ndarray]:
    """The day's predictions joined to its labels by id: every prediction needs a label and every label a prediction."""
    pred = read_csv(predictions_path)
    if list(pred.columns) != PREDICTION_COLUMNS:
        raise InputError(predictions_path, f'expected columns "{",".join(PREDICTION_COLUMNS)}", got "{",".join(pred.columns)}"')
    if len(pred) == 0:
        raise InputError(predictions_path, "no data rows (header only)")
    check_ids(predictions_path, pred[ID])
    check_numeric(predictions_path, pred, ["probability"])
    prob = pred["probability"].to_numpy(dtype=np.float64)
    bad = ~((prob >= 0) & (prob <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(predictions_path, f'row {i + 2}, column "probability": expected a number in [0, 1]')
    target, _ = read_frame_target(target_path)
    labels = target.set_index(ID)[TARGET].reindex(pred[ID])
    unlabelled = labels.isna().to_numpy()
    if unlabelled.any():
        i = int(np.flatnonzero(unlabelled)[0])
        raise InputError(target_path, f'no label for id "{pred[ID].iloc[i]}" of {predictions_path} (row {i + 2})')
    if len(target) > len(pred):
        raise InputError(target_path, f"{len(target) - len(pred)} ids have no prediction in {predictions_path}")
    return labels.to_numpy().astype(np.int8), prob




class PandasFrames(Frames):
    frame_type = pd.DataFrame

    def read_frame(self, path: str, *, with_target: bool, expected: list[str] | None = None):
        return read_frame(path, with_target=with_target, expected=expected)

    def column(self, df: pd.DataFrame, name: str) -> np.ndarray:
        return df[name].to_numpy() if name == TARGET else df[name].to_numpy(dtype=np.float64)

    def matrix(self, df: pd.DataFrame, columns: list[str]) -> np.ndarray:
        return df[columns].to_numpy(dtype=np.float64)

    def write_csv(self, df: pd.DataFrame, path: str) -> None:
        df.to_csv(path, index=False, na_rep="", lineterminator="\n")

    def generated(self, ids, names, x, label):
        data = pd.DataFrame(x, columns=names)
        data.insert(0, ID, ids)
        return data, pd.DataFrame({ID: ids, TARGET: label})

    def prepare(self, args: argparse.Namespace) -> dict:
        return prepare(self, args)

    def rows_where(self, df: pd.DataFrame, mask: np.ndarray):
        return df[~mask], df[mask]

    def predictions(self, df: pd.DataFrame, prob: np.ndarray, label: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({ID: df[ID], "probability": prob, "label": label})

    def read_scored_day(self, predictions_path: str, target_path: str):
        return read_scored_day(predictions_path, target_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], PandasFrames(), "aml-reference", __doc__.splitlines()[0]))

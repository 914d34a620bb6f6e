"""The pipeline's stages written the way a polars + scikit-learn user would, for `make bench`: the polars frame
layer of the references (aml_core.py has the rest and says what the two references share). polars reads and
writes CSV on every core; the checks and messages follow the pandas layer's (aml_reference.py)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import polars as pl

from aml_core import ID, PREDICTION_COLUMNS, TARGET, Frames, InputError, check_header, last_days, main, paths, write_files_atomic

# ---- reading and checking CSV files -----------------------------------------------------------------------------


def read_csv(path: str) -> pl.DataFrame:
    """ids as text, every other column as float64; only an empty cell is missing ("NA", "nan" are refused)."""
    if not os.path.isfile(path):
        raise InputError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise InputError(path, "file is empty")
    # The types come from the header: polars would otherwise guess them from the first rows.
    with open(path, encoding="utf-8") as f:
        header = [c.strip().strip('"') for c in f.readline().rstrip("\r\n").split(",")]
    seen: set[str] = set()
    for c in header:
        if c in seen:
            raise InputError(path, f'duplicate column "{c}"')
        seen.add(c)
    schema = {c: pl.String if c == ID else pl.Float64 for c in header}
    try:
        return pl.read_csv(path, schema=schema, null_values=[""], raise_if_empty=False)
    except pl.exceptions.PolarsError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(path, f"malformed CSV or a cell that is not a number ({first})") from None


def first_row(mask: pl.Series) -> int:
    return int(mask.arg_true()[0])


def check_numeric(path: str, df: pl.DataFrame, columns: list[str]) -> None:
    inf = df.select(pl.col(columns).is_infinite().any())
    for col in columns:
        if inf[col][0]:
            raise InputError(path, f'row {first_row(df[col].is_infinite()) + 2}, column "{col}": not a finite number')


def check_ids(path: str, ids: pl.Series) -> None:
    empty = (ids.is_null() | (ids.str.strip_chars() == "")).fill_null(True)
    if empty.any():
        raise InputError(path, f"row {first_row(empty) + 2}: empty id")
    dup = ids.is_duplicated()
    if dup.any():
        rows = dup.arg_true().to_numpy()
        first = ids[int(rows[0])]
        second = next(int(r) for r in rows[1:] if ids[int(r)] == first)
        raise InputError(path, f'duplicate id "{first}" in rows {rows[0] + 2} and {second + 2}')


def check_target(path: str, df: pl.DataFrame) -> pl.DataFrame:
    ok = df[TARGET].is_in([0.0, 1.0]).fill_null(False)
    if not ok.all():
        i = first_row(~ok)
        raise InputError(path, f'row {i + 2}, column "{TARGET}": target must be 0 or 1, got "{df[TARGET][i]}"')
    return df.with_columns(pl.col(TARGET).cast(pl.Int8))


def read_frame(path: str, *, with_target: bool, expected: list[str] | None = None) -> tuple[pl.DataFrame, list[str]]:
    df = read_csv(path)
    header = df.columns
    columns = check_header(path, header, with_target=with_target, expected=expected)
    has_target = TARGET in header
    if df.height == 0:
        raise InputError(path, "no data rows (header only)")
    check_numeric(path, df, columns)
    check_ids(path, df[ID])
    if has_target:
        df = check_target(path, df)
    return df, columns


def read_frame_target(path: str) -> pl.DataFrame:
    df = read_csv(path)
    if df.columns != [ID, TARGET]:
        raise InputError(path, f'expected columns "{ID},{TARGET}", got "{",".join(df.columns)}"')
    if df.height == 0:
        raise InputError(path, "no data rows (header only)")
    check_ids(path, df[ID])
    return check_target(path, df)


# ---- the stages' frame work -------------------------------------------------------------------------------------


def prepare(fr: Frames, args: argparse.Namespace) -> dict:
    frames, columns = [], None
    for day in last_days(args.ds, args.days):
        p = paths(args.data_dir, day)
        data, cols = read_frame(p["data"], with_target=False, expected=columns)
        columns = cols
        target = read_frame_target(p["target"])
        if target.height != data.height:
            raise InputError(p["target"], f"has {target.height} rows but {p['data']} has {data.height}")
        unmatched = ~data[ID].is_in(target[ID].implode())
        if unmatched.any():
            raise InputError(p["target"], f'no row for id "{data[ID][first_row(unmatched)]}" of {p["data"]}')
        frames.append(data.join(target, on=ID, how="left", validate="1:1", maintain_order="left"))
    joined = pl.concat(frames)
    check_ids(paths(args.data_dir, args.ds)["data"], joined[ID])
    keep = joined.select(pl.any_horizontal(pl.col(columns).is_not_null())).to_series()
    out = joined.filter(keep)
    if out.height == 0:
        raise InputError(paths(args.data_dir, args.ds)["data"], f"every row has all {len(columns)} features missing")
    target_path = paths(args.data_dir, args.ds)["train_data"]
    write_files_atomic(fr, [(target_path, out)])
    missing = out.select(pl.col(columns).null_count()).row(0, named=True)
    return {"ds": args.ds, "days": last_days(args.ds, args.days), "rows_in": joined.height, "rows_out": out.height,
            "dropped_all_missing": joined.height - out.height, "missing": {c: int(n) for c, n in missing.items()},
            "positive_rate": round(float(out[TARGET].mean()), 4), "outputs": [target_path]}


def read_scored_day(predictions_path: str, target_path: str) -> tuple[np.ndarray, np.ndarray]:
    pred = read_csv(predictions_path)
    if pred.columns != PREDICTION_COLUMNS:
        raise InputError(predictions_path, f'expected columns "{",".join(PREDICTION_COLUMNS)}", got "{",".join(pred.columns)}"')
    if pred.height == 0:
        raise InputError(predictions_path, "no data rows (header only)")
    check_ids(predictions_path, pred[ID])
    check_numeric(predictions_path, pred, ["probability"])
    ok = pred["probability"].is_between(0, 1).fill_null(False)
    if not ok.all():
        raise InputError(predictions_path, f'row {first_row(~ok) + 2}, column "probability": expected a number in [0, 1]')
    target = read_frame_target(target_path)
    scored = pred.select(ID, "probability").join(target, on=ID, how="left", maintain_order="left")
    unlabelled = scored[TARGET].is_null()
    if unlabelled.any():
        i = first_row(unlabelled)
        raise InputError(target_path, f'no label for id "{scored[ID][i]}" of {predictions_path} (row {i + 2})')
    if target.height > pred.height:
        raise InputError(target_path, f"{target.height - pred.height} ids have no prediction in {predictions_path}")
    return scored[TARGET].to_numpy(), scored["probability"].to_numpy()


class PolarsFrames(Frames):
    frame_type = pl.DataFrame

    def read_frame(self, path: str, *, with_target: bool, expected: list[str] | None = None):
        return read_frame(path, with_target=with_target, expected=expected)

    def column(self, df: pl.DataFrame, name: str) -> np.ndarray:
        return df[name].to_numpy()

    def matrix(self, df: pl.DataFrame, columns: list[str]) -> np.ndarray:
        return df.select(columns).to_numpy()

    def write_csv(self, df: pl.DataFrame, path: str) -> None:
        df.write_csv(path, null_value="", line_terminator="\n")

    def generated(self, ids, names, x, label):
        data = pl.DataFrame(x, schema=names, nan_to_null=True).insert_column(0, pl.Series(ID, ids))
        return data, pl.DataFrame({ID: ids, TARGET: label})

    def prepare(self, args: argparse.Namespace) -> dict:
        return prepare(self, args)

    def rows_where(self, df: pl.DataFrame, mask: np.ndarray):
        m = pl.Series(mask)
        return df.filter(~m), df.filter(m)

    def predictions(self, df: pl.DataFrame, prob: np.ndarray, label: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({ID: df[ID], "probability": prob, "label": label})

    def read_scored_day(self, predictions_path: str, target_path: str):
        return read_scored_day(predictions_path, target_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], PolarsFrames(), "aml-reference-polars", __doc__.splitlines()[0]))

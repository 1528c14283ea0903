"""Check and select the attribute table that ``stats`` analyses.

Every statistic works on a validated ``n × 40`` uint8 matrix of 0/1 values; the checks here turn a
bad table (missing columns, -1/1 or NaN values, an empty partition) into one clear error line that
names the column and an example row, instead of a silently wrong number further down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from celebalab.datasets.schema import ATTRIBUTE_NAMES, PARTITION_CODES, unknown_name_message
from celebalab.errors import CelebalabError

if TYPE_CHECKING:
    import pandas as pd

#: ``--partition`` choices: the whole table or one official partition.
PARTITION_CHOICES: tuple[str, ...] = ("all", *PARTITION_CODES)


class StatsInputError(CelebalabError):
    """The table given to ``stats`` cannot be analysed as it is."""


def table_source(df: pd.DataFrame) -> str:
    """How to name the table in messages: its dataset root when known."""
    root = df.attrs.get("root")
    return f"table of {root}" if root else "attribute table"


def _row_label(df: pd.DataFrame, position: int) -> str:
    label = f"row {position + 1}"
    if "image_id" in df.columns:
        label += f" (image_id {df['image_id'].iloc[position]!r})"
    return label


def _shown(value: object) -> str:
    """``repr`` of a cell value, numpy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def attribute_matrix(df: pd.DataFrame, attributes: Sequence[str] = ATTRIBUTE_NAMES) -> np.ndarray:
    """The attributes of ``df`` as an ``n × len(attributes)`` uint8 0/1 matrix, after checking.

    Raises :class:`StatsInputError` for missing columns, an empty table, NaN or non-0/1 values.
    """
    import pandas as pd

    source = table_source(df)
    missing = [name for name in attributes if name not in df.columns]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise StatsInputError(
            f"{source}: missing {len(missing)} attribute column(s): {shown}; "
            f"expected the {len(attributes)} CelebA attributes as 0/1 columns"
        )
    if len(df) == 0:
        raise StatsInputError(f"{source}: the table has no rows to analyse")
    out = np.empty((len(df), len(attributes)), dtype=np.uint8)
    for j, name in enumerate(attributes):
        column = df[name]
        values = column.to_numpy()
        if values.dtype == np.uint8:
            bad = values > 1
        else:
            numeric = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
            bad = ~((numeric == 0) | (numeric == 1))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            value = column.iloc[pos]
            what = (
                "a missing value (NaN)"
                if pd.isna(value)
                else f"the non-binary value {_shown(value)}"
            )
            hint = " (convert -1 to 0, as load_table does)" if str(value).strip() == "-1" else ""
            raise StatsInputError(
                f"{source}: column {name!r} has {what} at {_row_label(df, pos)}; "
                f"attributes must be 0 or 1{hint}"
            )
        out[:, j] = values if values.dtype == np.uint8 else numeric
    return out


def partition_codes(df: pd.DataFrame) -> np.ndarray:
    """The partition code of every row (0 train, 1 val, 2 test, -1 unknown) as int8."""
    if "partition" not in df.columns:
        return np.full(len(df), -1, dtype=np.int8)
    import pandas as pd

    codes = pd.to_numeric(df["partition"], errors="coerce").to_numpy(dtype=np.float64)
    known = np.isin(codes, [-1, *PARTITION_CODES.values()])
    if not known.all():
        pos = int(np.flatnonzero(~known)[0])
        value = _shown(df["partition"].iloc[pos])
        raise StatsInputError(
            f"{table_source(df)}: column 'partition' has the value {value} "
            f"at {_row_label(df, pos)}; expected 0 (train), 1 (val), 2 (test) or -1 (unknown)"
        )
    return codes.astype(np.int8)


def select_partition(df: pd.DataFrame, partition: str) -> pd.DataFrame:
    """The rows of one partition (``"all"`` keeps every row), with a clear error when empty."""
    if partition not in PARTITION_CHOICES:
        raise StatsInputError(unknown_name_message("partition", partition, PARTITION_CHOICES))
    if partition == "all":
        return df
    codes = partition_codes(df)
    if (codes == -1).all():
        raise StatsInputError(
            f"{table_source(df)}: has no partition information, so --partition {partition} "
            "cannot be selected; use --partition all"
        )
    subset = df[codes == PARTITION_CODES[partition]]
    if len(subset) == 0:
        raise StatsInputError(f"{table_source(df)}: partition {partition!r} has no rows")
    subset = subset.reset_index(drop=True)
    subset.attrs = dict(df.attrs)
    return subset

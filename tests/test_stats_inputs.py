"""Input checks of ``stats`` and the small correlated attribute frames the stats tests share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from celebalab.analysis._inputs import (
    StatsInputError,
    attribute_matrix,
    partition_codes,
    select_partition,
)
from celebalab.datasets.schema import ATTRIBUTE_NAMES


def attribute_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of 40 correlated 0/1 attributes (3 latent factors), ids, 70/15/15 partition."""
    rng = np.random.default_rng(seed)
    m = len(ATTRIBUTE_NAMES)
    latent = rng.normal(size=(n, 3)) @ rng.normal(size=(3, m)) + rng.normal(size=(n, m))
    shares = rng.uniform(0.05, 0.6, m)
    cuts = np.array([np.quantile(latent[:, j], 1 - shares[j]) for j in range(m)])
    X = (latent > cuts).astype(np.uint8)
    frame = pd.DataFrame(X, columns=list(ATTRIBUTE_NAMES))
    frame.insert(0, "image_id", [f"{i + 1:06d}.jpg" for i in range(n)])
    part = np.where(np.arange(n) < 0.7 * n, 0, np.where(np.arange(n) < 0.85 * n, 1, 2))
    frame.insert(1, "partition", part.astype(np.int8))
    return frame


def test_attribute_matrix_accepts_uint8_and_float_zero_one() -> None:
    frame = attribute_frame(50)
    X = attribute_matrix(frame)
    assert X.dtype == np.uint8 and X.shape == (50, 40)
    np.testing.assert_array_equal(X, frame[list(ATTRIBUTE_NAMES)].to_numpy())
    as_float = frame.astype({"Smiling": np.float64})
    np.testing.assert_array_equal(attribute_matrix(as_float), X)


def test_missing_columns_are_named() -> None:
    frame = attribute_frame(20).drop(columns=["Smiling", "Young"])
    with pytest.raises(
        StatsInputError, match=r"missing 2 attribute column\(s\): 'Smiling', 'Young'"
    ):
        attribute_matrix(frame)


def test_minus_one_names_column_row_and_image_id() -> None:
    frame = attribute_frame(20).astype({"Male": np.int8})
    frame.loc[6, "Male"] = -1
    with pytest.raises(StatsInputError) as err:
        attribute_matrix(frame)
    message = str(err.value)
    assert "'Male'" in message and "row 7" in message and "'000007.jpg'" in message
    assert "-1" in message and "convert -1 to 0" in message


def test_nan_and_text_values_are_rejected() -> None:
    frame = attribute_frame(20).astype({"Bald": np.float64, "Bangs": object})
    frame.loc[3, "Bald"] = np.nan
    with pytest.raises(StatsInputError, match=r"'Bald' has a missing value \(NaN\) at row 4"):
        attribute_matrix(frame)
    frame.loc[3, "Bald"] = 1.0
    frame.loc[0, "Bangs"] = "yes"
    with pytest.raises(StatsInputError, match=r"'Bangs' has the non-binary value 'yes' at row 1"):
        attribute_matrix(frame)


def test_empty_table_is_rejected() -> None:
    with pytest.raises(StatsInputError, match="no rows"):
        attribute_matrix(attribute_frame(10).iloc[:0])


def test_select_partition_and_its_errors() -> None:
    frame = attribute_frame(40)
    val = select_partition(frame, "val")
    assert len(val) == (frame["partition"] == 1).sum() and (val["partition"] == 1).all()
    assert select_partition(frame, "all") is frame
    with pytest.raises(StatsInputError, match="did you mean 'train'"):
        select_partition(frame, "Train")
    with pytest.raises(StatsInputError, match="partition 'test' has no rows"):
        select_partition(frame[frame["partition"] == 0], "test")
    with pytest.raises(StatsInputError, match="no partition information"):
        select_partition(frame.drop(columns="partition"), "train")


def test_partition_codes_check_values() -> None:
    frame = attribute_frame(10)
    np.testing.assert_array_equal(partition_codes(frame), frame["partition"])
    assert (partition_codes(frame.drop(columns="partition")) == -1).all()
    frame.loc[2, "partition"] = 7
    with pytest.raises(StatsInputError, match="'partition' has the value 7 at row 3"):
        partition_codes(frame)

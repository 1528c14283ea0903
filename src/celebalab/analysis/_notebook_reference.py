"""The reference statistics notebook's code, kept verbatim (bar function wrappers) for comparison.

Benchmarks time celebalab against these and tests check that both give the same numbers; nothing in
celebalab itself calls them. They are deliberately slow: a nested pandas loop for P(A | B) and one
scikit-learn fit per attribute with ``zero_division=1`` (which reports undefined metrics as 1.0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from celebalab.datasets.schema import ATTRIBUTE_NAMES

NAMES = list(ATTRIBUTE_NAMES)


def notebook_conditional_probabilities(train_df: pd.DataFrame) -> pd.DataFrame:
    """The notebook's nested loop over attribute pairs."""
    conditional_probs = pd.DataFrame(index=NAMES, columns=NAMES)
    for feature_a in NAMES:
        for feature_b in NAMES:
            if feature_a != feature_b:
                joint_prob = ((train_df[feature_a] == 1) & (train_df[feature_b] == 1)).mean()
                prob_b = (train_df[feature_b] == 1).mean()
                if prob_b > 0:
                    conditional_probs.at[feature_a, feature_b] = joint_prob / prob_b
                else:
                    conditional_probs.at[feature_a, feature_b] = None
            else:
                conditional_probs.at[feature_a, feature_b] = 1.0
    return conditional_probs


def notebook_logistic_regressions(
    train_df: pd.DataFrame, attributes: list[str]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The notebook's loop: one LogisticRegression(max_iter=1000) per attribute, zero_division=1.

    Also returns each attribute's test predictions, so they can be compared with celebalab's.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
    from sklearn.model_selection import train_test_split

    rows, predictions = [], {}
    for attribute in attributes:
        X = train_df.drop(columns=["image_id", "partition", attribute])
        y = train_df[attribute]
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        model = LogisticRegression(max_iter=1000)
        model.fit(X_train, y_train)
        y_pred = model.predict(X_test)
        predictions[attribute] = np.asarray(y_pred)
        rows.append(
            {
                "Attribute": attribute,
                "Accuracy": accuracy_score(y_test, y_pred),
                "Precision": precision_score(y_test, y_pred, zero_division=1),
                "Recall": recall_score(y_test, y_pred, zero_division=1),
                "F1-Score": f1_score(y_test, y_pred, zero_division=1),
            }
        )
    return pd.DataFrame(rows).set_index("Attribute"), predictions

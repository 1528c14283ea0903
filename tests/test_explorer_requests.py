"""The explorer's server answers malformed but well-formed requests with 4xx and one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from celebalab.explorer.app import build_app
from celebalab.explorer.sources import open_sources
from celebalab.explorer.views import DEFAULT_ATTRIBUTES, DEFAULT_CLUSTERING, Explorer

MAP = "..map-data.data...map-title.data.."
PIES = "..pies.figure...pie-page-label.children.."
SIMILAR = "..similar-gallery.children...upload-status.children.."
IMAGE = "image-panel.children"
TABLE = "..table.data...table.page_count...table.page_current...table-title.children.."
EXPORT = "download.data"
#: What the page sends as it opens (component id → value).
PAGE = {
    "source": 0,
    **{k: v for k, v in DEFAULT_CLUSTERING.items() if k != "params"},
    "k": 8, "eps": 0.5, "min-samples": 10, "min-cluster-size": 20,
    "filters": [], "person": None, "attributes": list(DEFAULT_ATTRIBUTES), "pie-page": 0,
    "cluster": None, "context": True, "table.page_current": 0, "table.page_size": 15,
    "table.sort_by": [],
}  # fmt: skip


@pytest.fixture(scope="module")
def client(synthetic_embedding_set: Path, synth_root: Path):
    explorer = Explorer(sources=open_sources([synthetic_embedding_set, synth_root / "CelebA"]))
    return build_app(explorer).server.test_client()


def _call(client, output: str, changed: str, **values: Any):
    """POST the callback of ``output`` as the page would, with ``values`` (id → value, or
    ``id.property`` → value) changed."""
    callback = next(
        c for c in client.get("/_dash-dependencies").get_json() if c["output"] == output
    )
    given = PAGE | values

    def items(key: str) -> list[dict]:
        return [
            {
                "id": i["id"],
                "property": i["property"],
                "value": given.get(f"{i['id']}.{i['property']}", given.get(i["id"])),
            }
            for i in callback[key]
            if not i["id"].startswith("{")
        ]

    outputs = [dict(zip(("id", "property"), o.split("."), strict=True))
               for o in output.strip(".").split("...")]  # fmt: skip
    body = {
        "output": output,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": items("inputs"),
        "state": items("state"),
        "changedPropIds": [changed],
    }
    return client.post("/_dash-update-component", data=json.dumps(body),
                       content_type="application/json")  # fmt: skip


def test_a_valid_request_is_answered(client) -> None:
    assert _call(client, MAP, "k.value", k=3).status_code == 200
    sort = [{"column_id": "Male", "direction": "desc"}]
    answer = _call(client, TABLE, "table.sort_by", **{"table.sort_by": sort, "cluster": 2})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    click = {"x": 0.0, "y": 0.0, "radius": 0.1, "t": 1}
    assert _call(client, IMAGE, "map-click.data", **{"map-click": click}).status_code == 200
    exported = _call(client, EXPORT, "export-csv.n_clicks", **{"export-csv": 1})
    assert exported.status_code == 200 and b"selection-120.csv" in exported.get_data()


@pytest.mark.parametrize(
    ("output", "changed", "values", "reason"),
    [
        (MAP, "k.value", {"k": 100000}, "k must be an integer from 1 to 60, not 100000"),
        (MAP, "source.value", {"source": 99}, "source must be an integer from 0 to 1, not 99"),
        (PIES, "source.value", {"source": -1}, "source must be an integer from 0 to 1, not -1"),
        (SIMILAR, "upload.contents", {"upload": {"a": 1}}, "the upload must be text, not dict"),
        (MAP, "eps.value", {"method": "dbscan", "eps": -1}, "eps must be a positive number"),
        (MAP, "method.value", {"method": "zzz"}, "method must be one of kmeans"),
        (PIES, "filters.data", {"filters": [{"attribute": "Nope", "value": 1}]}, "filters must"),
        (PIES, "attributes.value", {"attributes": ["Nope"]}, "attributes must be a list"),
        (PIES, "pie-page.data", {"pie-page": "x"}, "pie page must be an integer"),
        (MAP, "cluster.data", {"cluster": "3"}, "cluster must be an integer"),
        (MAP, "context.value", {"context": "yes"}, "the context switch must be true or false"),
        (TABLE, "table.page_size", {"table.page_size": 10**6}, "the table page size must be"),
        (
            TABLE,
            "table.sort_by",
            {"table.sort_by": [{"column_id": "rm -rf", "direction": "asc"}]},
            "the table's sort must be",
        ),
        (
            IMAGE,
            "map-click.data",
            {"map-click": {"x": "1", "y": 0, "radius": 1, "t": 0}},
            "a density-map click must be",
        ),
        (
            IMAGE,
            "map-click.data",
            {"map-click": {"x": 1, "y": 0, "radius": -1, "t": 0}},
            "a density-map click must be",
        ),
    ],
)
def test_wrong_values_are_400_with_one_line(client, output, changed, values, reason) -> None:
    answer = _call(client, output, changed, **values)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400, text
    assert text.startswith(reason) and text.count("\n") == 1


def test_request_bodies_are_capped(client) -> None:
    answer = client.post("/_dash-update-component", data=b"x" * (60 * 1024 * 1024),
                         content_type="application/json")  # fmt: skip
    assert answer.status_code == 413
    assert answer.get_data(as_text=True).startswith("the request is larger than")

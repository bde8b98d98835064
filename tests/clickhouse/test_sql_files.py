"""The ClickHouse store's SQL files as the server receives them (no server needed)."""

from __future__ import annotations

from importlib import resources

from tracehouse.stores.clickhouse.quoting import render, sql


def _names() -> list[str]:
    root = resources.files("tracehouse.stores.clickhouse").joinpath("sql")
    return sorted(f"{folder.name}/{file.name.removesuffix('.sql')}"
                  for folder in root.iterdir() if folder.is_dir()
                  for file in folder.iterdir() if file.name.endswith(".sql"))


def test_comment_lines_keep_their_placeholders_unfilled() -> None:
    # A value rendered into a comment doubles the statement (id lists near max_query_size), and a
    # string holding a newline (a service name) would end the comment and run as SQL.
    names = _names()
    assert "analytics/origin_spans" in names and "read/spans_of_traces" in names
    for name in names:
        for line in sql(name).splitlines():
            if line.lstrip().startswith("--"):
                assert "{" not in line.replace("{}", ""), (name, line)
    text = render(sql("read/existing_spans"), {"span_data": "t", "min_start": 1, "max_start": 2,
                                                 "hex_ids": "evil\nSELECT 1"})
    assert all("evil" not in line for line in text.splitlines() if line.lstrip().startswith("--"))

"""The DDL tracehouse creates in ClickHouse, for one server or a cluster (ON CLUSTER, replicated
tables, a Distributed table sharded by trace id). `statements()` is also what `tracehouse schema
--print` shows a DBA."""

from __future__ import annotations

from dataclasses import dataclass

from tracehouse.stores.clickhouse.quoting import Identifier, Raw, statement

SCHEMA_FILES = ("database", "span_data", "pins", "inferred_links", "span_index", "trace_summary",
                "span_index_mv", "trace_summary_mv", "service_calls", "dependency_hours")
CLUSTER_FILES = ("span_data_distributed", "parts_distributed", "mutations_distributed", "pins_distributed",
                 "inferred_links_distributed", "span_index_distributed", "trace_summary_distributed",
                 "service_calls_distributed", "dependency_hours_distributed")
# The per-trace summary's time buckets (sql/schema/trace_summary.sql).
SUMMARY_BUCKET_NS = 3600 * 10**9
VIEW_FILES = ("spans_view", "traces_view", "edges_view")
# Tail sampling's tables (sampling.py, ADR 20), local and (on a cluster) distributed.
SAMPLING_FILES = ("sampling_held_span", "sampling_released", "sampling_decision", "sampling_minute")
SAMPLING_CLUSTER_FILES = tuple(f"{name}_distributed" for name in SAMPLING_FILES)
# The console's views of reconstruction (sql/schema/inferred_links_view.sql, reconstructed_traces_view.sql):
# reconstructed_traces follows links up to 32 hops in five doubling steps (reconstruction_up_view.sql),
# one view each, made before it.
RECONSTRUCTION_LEVELS = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Layout:
    """Names of the store's tables in one database, on one server or on a cluster."""

    database: str
    cluster: str | None = None

    def table(self, name: str) -> Identifier:
        return Identifier(f"{self.database}.{name}")

    @property
    def span_data_local(self) -> Identifier:
        return self.table("span_data_local")

    @property
    def span_data(self) -> Identifier:
        """The table reads and writes go to: the Distributed table on a cluster, else the table."""
        return self.table("span_data") if self.cluster else self.span_data_local

    def local_or_distributed(self, local_name: str) -> Identifier:
        """The Distributed table over `local_name` on a cluster, else the table itself."""
        return self.table(local_name.removesuffix("_local")) if self.cluster else self.table(local_name)

    @property
    def links(self) -> Identifier:
        """Where inferred links are read and written: on a cluster the Distributed table, which is
        not named `inferred_links` (that is the console's view, as in the embedded store)."""
        return self.table("inferred_links_distributed") if self.cluster else self.table("inferred_links_local")

    @property
    def parts(self) -> Identifier:
        return self.table("cluster_parts") if self.cluster else Identifier("system.parts")

    @property
    def mutations(self) -> Identifier:
        return self.table("cluster_mutations") if self.cluster else Identifier("system.mutations")

    @property
    def on_cluster(self) -> Raw:
        return Raw(f"ON CLUSTER `{self.cluster}`" if self.cluster else "")

    def engine(self, replicated: bool, table: str = "span_data_local", version: str | None = None,
               family: str = "ReplacingMergeTree") -> Raw:
        version_arg = f"({version})" if version else ""
        if not (self.cluster and replicated):
            return Raw(f"{family}{version_arg}")
        # {shard} and {replica} are the servers' macros; the path is unique per database. Tables fed
        # by materialized views are replicated too: a view runs only where the insert arrives.
        tail = f", {version}" if version else ""
        return Raw(f"Replicated{family}('/clickhouse/tables/{{shard}}/{self.database}/{table}', "
                   f"'{{replica}}'{tail})")

    def params(self, replicated: bool = True) -> dict[str, object]:
        return {
            "database": Identifier(self.database),
            "database_name": self.database,
            "cluster": Identifier(self.cluster) if self.cluster else Raw(""),
            "cluster_name": self.cluster or "",
            "on_cluster": self.on_cluster,
            "engine": self.engine(replicated),
            "span_data_local": self.span_data_local,
            "span_data": self.span_data,
            "parts": self.parts,
            "mutations": self.mutations,
            "spans_view": self.table("spans"),
            "traces_view": self.table("traces"),
            "edges_view": self.table("edges"),
            "pins_local": self.table("retention_pins_local"),
            "pins": self.local_or_distributed("retention_pins_local"),
            "pins_engine": self.engine(replicated, "retention_pins_local", "pinned_at"),
            "links_local": self.table("inferred_links_local"),
            "links": self.links,
            "links_view": self.table("inferred_links"),
            "reconstructed_view": self.table("reconstructed_traces"),
            **{f"up_{n}": self.table(f"reconstruction_up_{n}") for n in (1, *RECONSTRUCTION_LEVELS)},
            "links_engine": self.engine(replicated, "inferred_links_local", "version"),
            "index_local": self.table("span_index_local"),
            "index": self.local_or_distributed("span_index_local"),
            "index_engine": self.engine(replicated, "span_index_local", family="MergeTree"),
            "index_mv": self.table("span_index_mv"),
            "summary_local": self.table("trace_summary_local"),
            "summary": self.local_or_distributed("trace_summary_local"),
            "summary_engine": self.engine(replicated, "trace_summary_local", family="AggregatingMergeTree"),
            "summary_mv": self.table("trace_summary_mv"),
            "bucket_ns": SUMMARY_BUCKET_NS,
            "calls_local": self.table("service_calls_local"),
            "calls": self.local_or_distributed("service_calls_local"),
            "calls_engine": self.engine(replicated, "service_calls_local"),
            "hours_local": self.table("dependency_hours_local"),
            "hours": self.local_or_distributed("dependency_hours_local"),
            "hours_engine": self.engine(replicated, "dependency_hours_local", "version"),
            **self.sampling_params(replicated),
        }

    def sampling_params(self, replicated: bool) -> dict[str, object]:
        names = {"held": "sampling_held_span_local", "released": "sampling_released_local",
                 "decisions": "sampling_decision_local", "minutes": "sampling_minute_local"}
        engines = {"held": self.engine(replicated, names["held"], family="MergeTree"),
                   "released": self.engine(replicated, names["released"]),
                   "decisions": self.engine(replicated, names["decisions"], "kept"),
                   "minutes": self.engine(replicated, names["minutes"])}
        params: dict[str, object] = {}
        for key, local in names.items():
            params[f"{key}_local"] = self.table(local)
            params[key] = self.local_or_distributed(local)
            params[f"{key}_engine"] = engines[key]
        return params


def statements(layout: Layout, replicated: bool = True) -> list[str]:
    """Every CREATE statement, in the order they must run."""
    names = (list(SCHEMA_FILES) + list(SAMPLING_FILES)
             + (list(CLUSTER_FILES) + list(SAMPLING_CLUSTER_FILES) if layout.cluster else []) + list(VIEW_FILES))
    params = layout.params(replicated)
    made = [statement(f"schema/{name}", **params).strip() for name in names]
    made.append(statement("schema/inferred_links_view", **params).strip())
    made.append(statement("schema/reconstruction_up_1_view", **params).strip())
    for level in RECONSTRUCTION_LEVELS:
        made.append(statement("schema/reconstruction_up_view", **params | {
            "up_next": params[f"up_{level}"], "up_previous": params[f"up_{level // 2}"]}).strip())
    made.append(statement("schema/reconstructed_traces_view", **params).strip())
    return made

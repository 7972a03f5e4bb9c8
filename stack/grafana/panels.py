"""The few panel shapes every dashboard is made of, on Grafana's own generated types.

Every panel reads the dashboard's `datasource` variable (its default is the
provisioned Prometheus, uid `prometheus`), has exactly one unit (so one unit per
axis: no override changes it), and a panel that draws an alert's threshold links
that alert's runbook, so the line and the rule can be checked against each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, prometheus, statetimeline, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

REPO = Path(__file__).resolve().parents[2]
PARAMS_FILE = REPO / "rules" / "src" / "params.yml"
# The provisioned datasource (grafana/provisioning/datasources/prometheus.yml).
PROMETHEUS_UID = "prometheus"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
WIDTH = 8  # three panels to a row of Grafana's 24 columns
HEIGHT = 8


def named_states(*names: tuple[str, str]) -> dict[str, ValueMappingResult]:
    """Values 0, 1, 2 ... shown as these (text, colour) pairs, in order."""
    return {
        str(value): ValueMappingResult(text=text, color=color, index=value)
        for value, (text, color) in enumerate(names)
    }


UP_DOWN = named_states(("down", "red"), ("up", "green"))


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The rules' thresholds: the dashboards draw the same numbers the alerts use."""
    params: dict[str, Any] = yaml.safe_load(path.read_text())
    return params


@dataclass(frozen=True)
class Query:
    """One PromQL target and how its series are named in the legend."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class AlertLine:
    """The threshold of `alert` drawn on a panel: `value` is the rule's own number
    (from params.yml); `above` says which side of it is bad."""

    alert: str
    value: float
    runbook_base: str
    above: bool = True

    def steps(self) -> list[Threshold]:
        good, bad = ("green", "red") if self.above else ("red", "green")
        return [Threshold(value=None, color=good), Threshold(value=self.value, color=bad)]

    def link(self) -> dashboard.DashboardLink:
        url = f"{self.runbook_base}/{self.alert}.md"
        return dashboard.DashboardLink(f"Runbook: {self.alert}").url(url).target_blank(True)


def _targets(queries: Sequence[Query]) -> list[Builder[Dataquery]]:
    return [
        prometheus.Dataquery().expr(q.expr).legend_format(q.legend or "__auto").ref_id(chr(65 + i))
        for i, q in enumerate(queries)
    ]


def graph(
    title: str,
    unit: str,
    queries: Sequence[Query],
    description: str,
    line: AlertLine | None = None,
    stacked: bool = False,
    bars: bool = False,
) -> timeseries.Panel:
    """A time series in one unit, with the alert's threshold as a line when it has one."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .targets(_targets(queries))
        .span(WIDTH)
        .height(HEIGHT)
        .legend(common_builders.VizLegendOptions().show_legend(True).display_mode(
            common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM))
    )  # fmt: skip
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if line is not None:
        panel = (
            panel.thresholds(
                dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(line.steps())
            )
            .thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(
                    common.GraphThresholdsStyleMode.DASHED
                )
            )
            .links([line.link()])
        )
    return panel


def states(
    title: str,
    queries: Sequence[Query],
    description: str,
    mapping: Mapping[str, ValueMappingResult] = UP_DOWN,
) -> statetimeline.Panel:
    """Up/down (or any few named states) as coloured bands, one row per series."""
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit("none")
        .targets(_targets(queries))
        .mappings([ValueMap(options=dict(mapping))])
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .span(WIDTH)
        .height(HEIGHT)
    )


def datasource_variable() -> dashboard.DatasourceVariable:
    """Which Prometheus to read; the provisioned one by default."""
    return (
        dashboard.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(VariableOption(selected=True, text="Prometheus", value=PROMETHEUS_UID))
    )


def label_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A multi-valued filter on one label; "All" is `.*`, which also matches series
    that lack the label (a backup probe has no `service`)."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": query, "refId": f"{name}-values"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


Panel = timeseries.Panel | statetimeline.Panel
Section = tuple[str, Sequence[Panel]]


def board(
    uid: str,
    title: str,
    description: str,
    variable: dashboard.QueryVariable,
    sections: Sequence[Section],
) -> dashboard.Dashboard:
    """A dashboard: stable uid, tags, the two variables, a link to the others, and
    its panels in titled rows, numbered in order (Grafana wants unique ids)."""
    built = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["recovery-stack"])
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
        .with_variable(variable)
        .link(
            dashboard.DashboardLink("recovery-stack")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["recovery-stack"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    number = 0
    for row_title, panels in sections:
        number += 1
        built = built.with_row(dashboard.Row(row_title).id(number))
        for panel in panels:
            number += 1
            built = built.with_panel(panel.id(number))
    return built

"""Headstore: one Grafana dashboard, one row per service and per outbox relay.

Generate the JSON (and commit both files):

    cd deploy/grafana && $VENV/bin/generate-dashboard -o headstore.json headstore.dashboard.py

`scripts/check_dashboards.sh` fails when the JSON is stale. Every service exports Prometheus
metrics prefixed with its own name (`profiles_grpc_seconds`, ...); see deploy/README.md.
To add a service: one line in SERVICES below (its service row and its relay row follow).
"""

import attr
from grafanalib.core import (
    Dashboard,
    GridPos,
    RowPanel,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "[$__rate_interval]"
WIDTH = 8  # three panels per line on Grafana's 24-column grid
HEIGHT = 8


def panel(title, targets, unit="short", description=None):
    """A time series panel; targets are (expr, legend) pairs."""
    return TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[
            Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i), datasource=DATASOURCE)
            for i, (expr, legend) in enumerate(targets)
        ],
        unit=unit,
    )


def p99(metric, by):
    return (
        f"histogram_quantile(0.99, sum by (le, {by}) (rate({metric}_bucket{RATE})))",
        f"p99 {{{{{by}}}}}",
    )


def grpc_panels(svc):
    calls = f"{svc}_grpc_seconds_count"
    return [
        panel(
            f"{svc}: gRPC requests/s by method",
            [(f"sum by (method) (rate({calls}{RATE}))", "{{method}}")],
            unit="reqps",
        ),
        panel(f"{svc}: gRPC p99 latency", [p99(f"{svc}_grpc_seconds", "method")], unit="s"),
        panel(
            f"{svc}: gRPC error ratio",
            [
                (
                    f'sum(rate({calls}{{code!="OK"}}{RATE})) / sum(rate({calls}{RATE}))',
                    "non-OK / all",
                )
            ],
            unit="percentunit",
        ),
        panel(
            f"{svc}: errors/s by kind",
            [(f"sum by (kind) (rate({svc}_errors_total{RATE}))", "{{kind}}")],
            unit="ops",
        ),
    ]


def event_panels(svc):
    return [
        panel(
            f"{svc}: events stored/s",
            [(f"sum by (event_type) (rate({svc}_events_stored_total{RATE}))", "{{event_type}}")],
            unit="ops",
        ),
        panel(
            f"{svc}: events consumed/s by outcome",
            [
                (
                    f"sum by (outcome) (rate({svc}_events_consumed_total{RATE}))",
                    "{{outcome}}",
                )
            ],
            unit="ops",
            description="processed, duplicate (redelivered, changed nothing) or failed.",
        ),
        panel(f"{svc}: event handler p99", [p99(f"{svc}_handler_seconds", "handler")], unit="s"),
        panel(
            f"{svc}: parked events",
            [(f"sum by (handler) ({svc}_parked_events)", "{{handler}}")],
            unit="short",
            description="Events set aside after failing every attempt, per consumer handler, "
            "relay and projection (alert EventsParked): `headstore parked list`.",
        ),
    ]


def relay_panels(svc):
    return [
        panel(
            f"{svc}-relay: events published/s",
            [
                (
                    f"sum by (event_type) (rate({svc}_events_published_total{RATE}))",
                    "{{event_type}}",
                )
            ],
            unit="ops",
        ),
        panel(
            f"{svc}-relay: lag (stored, not yet published)",
            [(f"max({svc}_relay_lag_events)", "lag")],
            unit="short",
        ),
        panel(
            f"{svc}-relay: stored vs published",
            [
                (f"sum(rate({svc}_events_stored_total{RATE}))", "stored/s"),
                (f"sum(rate({svc}_events_published_total{RATE}))", "published/s"),
            ],
            unit="ops",
        ),
    ]


def login_failures(svc):
    return [
        panel(
            f"{svc}: login failures/s",
            [(f"sum(rate({svc}_login_failures_total{RATE}))", "failures/s")],
            unit="ops",
        )
    ]


def emails(svc):
    return [
        panel(
            f"{svc}: e-mails sent/s by template",
            [(f"sum by (template) (rate({svc}_emails_sent_total{RATE}))", "{{template}}")],
            unit="ops",
        ),
        panel(
            f"{svc}: e-mail failures/s by template",
            [(f"sum by (template) (rate({svc}_email_failures_total{RATE}))", "{{template}}")],
            unit="ops",
        ),
    ]


def live_sessions(svc):
    return [
        panel(
            f"{svc}: live sessions",
            [(f"max({svc}_live_sessions)", "live")],
            unit="short",
            description="Sessions in progress now (max over replicas: each reports the same "
            "count from the store).",
        ),
        panel(
            f"{svc}: sessions ended/s by reason",
            [(f"sum by (reason) (rate({svc}_sessions_ended_total{RATE}))", "{{reason}}")],
            unit="ops",
        ),
        panel(
            f"{svc}: Janus events/s by type",
            [(f"sum by (type) (rate({svc}_janus_events_total{RATE}))", "{{type}}")],
            unit="ops",
            description="Events Janus' sampleevh POSTs to calls on 8071 (session, handle, webrtc, "
            "media, plugin). None while sessions are live: Janus cannot reach calls.",
        ),
    ]


def bills(svc):
    return [
        panel(
            f"{svc}: open bills",
            [(f"max({svc}_open_bills)", "open")],
            unit="short",
            description="Bills of sessions not yet charged (max over replicas). Should follow "
            "calls: live sessions.",
        ),
        panel(
            f"{svc}: minutes billed per minute by currency",
            [(f"60 * sum by (currency) (rate({svc}_minutes_billed_total{RATE}))", "{{currency}}")],
            unit="short",
            description="About the number of billed sessions in progress.",
        ),
        panel(
            f"{svc}: revenue captured per hour by currency",
            [
                (
                    f"sum by (currency) (increase({svc}_revenue_minor_total[1h])) / 100",
                    "{{currency}}",
                )
            ],
            unit="short",
            description="Captured amounts in major units (the counter is in minor units; every "
            "supported currency, USD GBP EUR CAD CHF, has 2 decimals), over the last hour.",
        ),
        panel(
            f"{svc}: card hold failures/s",
            [(f"sum(rate({svc}_hold_failures_total{RATE}))", "failures/s")],
            unit="ops",
            description="Authorizations (holds) Stripe refused or that failed; the session ends.",
        ),
        panel(
            f"{svc}: minute billing lateness p99",
            [
                (
                    f"histogram_quantile(0.99, sum by (le) "
                    f"(rate({svc}_minute_lateness_seconds_bucket{RATE})))",
                    "p99",
                )
            ],
            unit="s",
            description="How late after its due time a minute was billed.",
        ),
        panel(
            f"{svc}: Stripe calls/s by operation and outcome",
            [
                (
                    f"sum by (operation, outcome) (rate({svc}_stripe_calls_total{RATE}))",
                    "{{operation}} {{outcome}}",
                )
            ],
            unit="reqps",
        ),
    ]


def payout_panels(svc):
    return [
        panel(
            f"{svc}: transferred per day by currency",
            [
                (
                    f"sum by (currency) (increase({svc}_transferred_minor_total[1d])) / 100",
                    "{{currency}}",
                )
            ],
            unit="short",
            description="Weekly-run transfers to experts and ambassadors in major units (the "
            "counter is in minor units), over the last day: a spike once a week.",
        ),
        panel(
            f"{svc}: transfers by outcome (last day)",
            [
                (
                    f"sum by (outcome, currency) (increase({svc}_transfers_total[1d]))",
                    "{{outcome}} {{currency}}",
                )
            ],
            unit="short",
            description="Failed transfers stay unpaid and are tried again by the next run; the "
            "payee's statement says why.",
        ),
        panel(
            f"{svc}: credited per hour by currency and kind",
            [
                (
                    f"sum by (currency, entry) (increase({svc}_credited_minor_total[1h])) / 100",
                    "{{entry}} {{currency}}",
                )
            ],
            unit="short",
            description="Session earnings and ambassador shares credited to payees, in major "
            "units. Earnings should follow billing's captured revenue less the commission.",
        ),
        panel(
            f"{svc}: newest week fully paid",
            [(f"max({svc}_last_run_week)", "week")],
            unit="short",
            description="The payout week of the last finished run (weeks counted from "
            "PAYOUTS_WEEK_ANCHOR); it steps up once a week.",
        ),
        panel(
            f"{svc}: Stripe calls/s by operation and outcome",
            [
                (
                    f"sum by (operation, outcome) (rate({svc}_stripe_calls_total{RATE}))",
                    "{{operation}} {{outcome}}",
                )
            ],
            unit="reqps",
        ),
    ]


def gateway_panels(svc="gateway"):
    http = f"{svc}_http_request_seconds"
    return [
        panel(
            f"{svc}: HTTP requests/s by route",
            [(f"sum by (route, method) (rate({http}_count{RATE}))", "{{method}} {{route}}")],
            unit="reqps",
        ),
        panel(f"{svc}: HTTP p99 latency", [p99(http, "route")], unit="s"),
        panel(
            f"{svc}: HTTP 5xx ratio",
            [
                (
                    f'sum(rate({http}_count{{status=~"5.."}}{RATE}))'
                    f" / sum(rate({http}_count{RATE}))",
                    "5xx / all",
                )
            ],
            unit="percentunit",
        ),
        panel(
            f"{svc}: errors/s by kind",
            [(f"sum by (kind) (rate({svc}_errors_total{RATE}))", "{{kind}}")],
            unit="ops",
        ),
        panel(
            f"{svc}: events consumed/s by outcome",
            [(f"sum by (outcome) (rate({svc}_events_consumed_total{RATE}))", "{{outcome}}")],
            unit="ops",
        ),
    ]


def service_panels(svc, extra=()):
    panels = grpc_panels(svc) + event_panels(svc)
    for more in extra:
        panels += more(svc)
    return panels


# One line per service behind the gateway: its name and its service-specific panels. Each gets a
# service row and a row for its outbox relay, below the gateway's row.
SERVICES = {
    "profiles": [login_failures],
    "notifications": [emails],
    "calls": [live_sessions],
    "billing": [bills],
    "payouts": [payout_panels],
}


def rows():
    out = [("gateway", gateway_panels("gateway"))]
    for svc, extra in SERVICES.items():
        out.append((svc, service_panels(svc, extra)))
        out.append((f"{svc}-relay", relay_panels(svc)))
    return out


def layout(sections):
    """Place each row and its panels on the grid, top to bottom, three panels a line."""
    panels, y = [], 0
    for title, section in sections:
        panels.append(RowPanel(title=title, gridPos=GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        for i, p in enumerate(section):
            x = (i % 3) * WIDTH
            if i and x == 0:
                y += HEIGHT
            panels.append(attr.evolve(p, gridPos=GridPos(h=HEIGHT, w=WIDTH, x=x, y=y)))
        y += HEIGHT
    return panels


dashboard = Dashboard(
    title="Headstore",
    uid="headstore",
    description="Request rates, latencies, errors, outbox relays and consumers of every service.",
    tags=["headstore"],
    timezone="utc",
    time=Time("now-3h", "now"),
    refresh="30s",
    templating=Templating(
        list=[
            Template(
                name="datasource",
                label="Prometheus",
                query="prometheus",
                type="datasource",
                default="Prometheus",
            )
        ]
    ),
    panels=layout(rows()),
).auto_panel_ids()

"""The Stats tab: the numbers, plots per day, style and quality, and the credit ledger."""

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from avatargen.ui.events import listen
from avatargen.ui.header import Header
from avatargen.ui.text import SIGN_IN, ledger_rows, stats_line, style_label
from avatargen.web.api import Api

LEDGER_ROWS = 100
COUNT_AXIS = {"y_lim": [0, None], "height": 240}  # counts start from zero


@dataclass
class Stats:
    tab: gr.Tab
    summary: gr.Markdown
    per_day: gr.LinePlot
    credits_per_day: gr.LinePlot
    by_style: gr.BarPlot
    by_quality: gr.BarPlot
    ledger: gr.Dataframe


def build() -> Stats:
    """Its tab; call inside `gr.Tabs()`."""
    with gr.Tab("Stats", id="stats-tab") as tab:
        summary = gr.Markdown(elem_id="stats")
        with gr.Row():
            per_day = gr.LinePlot(
                x="day", y="generations", title="Generations per day", elem_id="per-day", **COUNT_AXIS
            )
            credits_per_day = gr.LinePlot(
                x="day", y="credits", title="Credits spent per day", elem_id="credits-per-day", **COUNT_AXIS
            )
        with gr.Row():
            by_style = gr.BarPlot(x="style", y="generations", title="By style", elem_id="by-style", **COUNT_AXIS)
            by_quality = gr.BarPlot(
                x="quality", y="generations", title="By quality", elem_id="by-quality", **COUNT_AXIS
            )
        ledger = gr.Dataframe(
            headers=["When (UTC)", "What", "Change", "Balance after"],
            interactive=False,
            wrap=True,
            column_widths=["34%", "26%", "18%", "22%"],
            label="Credit ledger",
            elem_id="ledger",
        )
    return Stats(tab, summary, per_day, credits_per_day, by_style, by_quality, ledger)


def outputs(stats: Stats, header: Header) -> list:
    """What `show` changes."""
    shown = [stats.summary, stats.per_day, stats.credits_per_day, stats.by_style, stats.by_quality, stats.ledger]
    return [*shown, header.balance]


def every_day(days: pd.DataFrame) -> pd.DataFrame:
    """One row per day (zeros included) from the first day with a generation up to today (UTC)."""
    today = pd.Timestamp.now(tz="UTC").normalize().tz_localize(None)
    days = days.assign(day=pd.to_datetime(days["day"])).set_index("day")
    start = min([today, *days.index])
    filled = days.reindex(pd.date_range(start, today, freq="D"), fill_value=0)
    return filled.rename_axis("day").reset_index()


def show(stats: Stats, header: Header, api: Api, request: gr.Request) -> dict:
    if api.visitor(request) is None:
        return {stats.summary: f"{SIGN_IN} to see your stats and credits."}
    credits = api.page.ledger(limit=LEDGER_ROWS, request=request)
    breakdown = api.breakdown(request)["data"]
    days = every_day(pd.DataFrame(breakdown["day"], columns=["day", "generations", "credits"]))
    styles = pd.DataFrame(breakdown["style"], columns=["style", "generations", "credits"])
    styles["style"] = styles["style"].map(style_label)
    qualities = pd.DataFrame(breakdown["quality"], columns=["quality", "generations", "credits"])
    qualities["quality"] = qualities["quality"].str.upper()
    return {
        stats.summary: stats_line(api.stats(request)["data"], credits["balance"]),
        stats.per_day: days,
        stats.credits_per_day: days,
        stats.by_style: styles,
        stats.by_quality: qualities,
        stats.ledger: ledger_rows(credits["transactions"], credits["balance"]),
        header.balance: f"**Balance:** {credits['balance']} credits",
    }


def wire(stats: Stats, header: Header, api: Api) -> None:
    listen(stats.tab.select, show, (stats, header, api), [], outputs(stats, header))

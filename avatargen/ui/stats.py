"""Stats: the numbers, plots per day, style and quality, and the credit ledger."""

import gradio as gr
import pandas as pd

from avatargen.ui.events import listen
from avatargen.ui.layout import Page
from avatargen.ui.text import SIGN_IN, ledger_rows, stats_line, style_label
from avatargen.web.api import Api

LEDGER_ROWS = 100
WEEK = 7


def outputs(ui: Page) -> list:
    return [ui.stats, ui.per_day, ui.credits_per_day, ui.by_style, ui.by_quality, ui.ledger, ui.balance]


def every_day(days: pd.DataFrame) -> pd.DataFrame:
    """One row per day (zeros included) from the first generation, or the last week, up to today (UTC)."""
    today = pd.Timestamp.now(tz="UTC").normalize().tz_localize(None)
    days = days.assign(day=pd.to_datetime(days["day"])).set_index("day")
    start = min([today - pd.Timedelta(days=WEEK - 1), *days.index])
    filled = days.reindex(pd.date_range(start, today, freq="D"), fill_value=0)
    return filled.rename_axis("day").reset_index()


def show(ui: Page, api: Api, request: gr.Request) -> dict:
    if api.visitor(request) is None:
        return {ui.stats: f"{SIGN_IN} to see your stats and credits."}
    credits = api.services.ledger.statement(api.user(request), limit=LEDGER_ROWS)
    breakdown = api.breakdown(request)["data"]
    days = every_day(pd.DataFrame(breakdown["day"], columns=["day", "generations", "credits"]))
    styles = pd.DataFrame(breakdown["style"], columns=["style", "generations", "credits"])
    styles["style"] = styles["style"].map(style_label)
    qualities = pd.DataFrame(breakdown["quality"], columns=["quality", "generations", "credits"])
    qualities["quality"] = qualities["quality"].str.upper()
    return {
        ui.stats: stats_line(api.stats(request)["data"], credits["balance"]),
        ui.per_day: days,
        ui.credits_per_day: days,
        ui.by_style: styles,
        ui.by_quality: qualities,
        ui.ledger: ledger_rows(credits["transactions"], credits["balance"]),
        ui.balance: f"**Balance:** {credits['balance']} credits",
    }


def wire(ui: Page, api: Api) -> None:
    listen(ui.stats_tab.select, show, ui, api, [], outputs(ui))

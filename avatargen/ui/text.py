"""The words and small HTML the page shows, from API records: pure functions, tested without a browser."""

import html
from datetime import datetime

from avatargen.poses.template import PoseTemplate
from avatargen.presets import STYLES

SIGN_IN = "Sign in with Hugging Face"  # what a signed-out visitor (Space sign-in) is asked to do


def facets_line(template: PoseTemplate) -> str:
    if template.owner is not None:
        return f"your own pose · {_words(template.view)} · {_words(template.framing)}"
    parts = (template.category, f"{template.gender} body", template.view, template.framing)
    return " · ".join(_words(part) for part in parts)


def style_label(style: str) -> str:
    return STYLES[style].label if style in STYLES else style


def took_seconds(record: dict) -> float | None:
    if not record.get("startedAt") or not record.get("completedAt"):
        return None
    return (_moment(record["completedAt"]) - _moment(record["startedAt"])).total_seconds()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def rough(seconds: float) -> str:
    """An estimate, in whole seconds or minutes."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


def price_line(count: int, each: int, balance: int) -> str:
    total = count * each
    if count <= 1:
        cost = f"**Cost:** {each} credits"
    else:
        cost = f"**Cost:** {count} poses × {each} = **{total} credits**"
    short = f" — not enough for {'these' if count > 1 else 'this'}" if balance < total else ""
    return f"{cost} · **Your balance:** {balance} credits{short}"


def face_line(width: int | None, least: int) -> str:
    """What the photo check found, written under the photo."""
    if width is None:
        return "✗ No face: use a photo where your face is clearly visible and not covered."
    if width < least:
        return f"✗ Face too small: {width} px, needs {least}. Use a closer photo (head and shoulders)."
    return "✓ Face found: this photo works."


def blocked(
    photo: bool, face_ok: bool, count: int, prices: dict[tuple[str, bool], int], chosen: tuple[str, bool], balance: int
) -> str:
    """Why Generate cannot start yet ("" when it can): the photo, a pose, then the credits, with the cheapest way
    to fit. `prices` has every (quality, priority); `chosen` is the one picked."""
    if not photo:
        return "Add your photo first (or try the sample photo)."
    if not face_ok:
        return "Use a photo with a clear face first (see under your photo)."
    if not count:
        return "Pick at least one pose."
    need = count * prices[chosen]
    if need <= balance:
        return ""
    short = f"Not enough credits: {need} needed, you have {balance}."
    cheaper = [o for o in prices if prices[o] < prices[chosen] and o[1] <= chosen[1] and count * prices[o] <= balance]
    if cheaper:
        best = max(cheaper, key=lambda o: prices[o])  # the smallest change that fits
        change = ([f"choose {best[0].upper()}"] if best[0] != chosen[0] else []) + (
            ["turn off Priority"] if chosen[1] and not best[1] else []
        )
        return f"{short} To fit: {' and '.join(change)} ({count * prices[best]} credits)."
    each = min(prices.values())
    if balance < each:
        return f"{short} One avatar costs at least {each} credits."
    fit = balance // prices[chosen] if balance >= prices[chosen] else balance // each
    settings = "" if balance >= prices[chosen] else " in the cheapest settings"
    return f"{short} To fit: pick {fit} pose{'s' if fit > 1 else ''}{settings}."


def job_state(record: dict, job: dict | None = None) -> str:
    """One short line: where a generation stands (a job record adds its queue position and estimate)."""
    status = record["status"]
    eta = job.get("etaSeconds") if job else None
    if status == "pending":
        place = [f"#{job['queuePosition']} in the queue"] if job and job.get("queuePosition") else []
        place += [f"about {rough(eta)}"] if eta is not None else []
        return "Waiting" + (f" ({', '.join(place)})" if place else "")
    if status == "processing":
        left = f" · about {rough(eta)} left" if eta is not None else ""
        return f"Generating {int(record['progress'] * 100)}%{left}"
    if status == "completed":
        return f"Done in {duration(took_seconds(record))}{likeness_part(record)}"
    return f"Failed — {record['creditUsed']} credits refunded"


def batch_status(records: list[dict]) -> str:
    """The create view's status line for the generations it started last."""
    if not records:
        return ""
    counts = {status: sum(r["status"] == status for r in records) for status in ("completed", "failed")}
    running = [r for r in records if r["status"] in ("pending", "processing")]
    if len(records) == 1:
        only = records[0]
        return job_state(only) if only["status"] != "failed" else f"Failed: {only['errorMessage']}"
    parts = [f"{counts['completed']} of {len(records)} done"]
    if running:
        parts.append(f"{len(running)} still running")
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed (refunded)")
    return " · ".join(parts)


def jobs_html(
    jobs: list[dict], names: dict[str, str], pictures: dict[str, str], previews: dict[str, str] | None = None
) -> str:
    """The jobs panel: one row per unfinished generation with its live preview, else its pose picture (data URIs,
    by job id and by pose id), and a progress bar."""
    if not jobs:
        return '<p class="empty">No jobs running. Finished ones are in the History tab.</p>'
    rows = []
    for job in jobs:
        name = html.escape(names.get(job["poseTemplateId"], "a pose"))
        picture = (previews or {}).get(job["id"]) or pictures.get(job["poseTemplateId"], "")
        image = f'<img src="{picture}" alt="" width="48" height="72">' if picture else ""
        state = html.escape(job_state(job, job))
        settings = html.escape(f"{job['quality'].upper()} · {style_label(job['style'])} · {job['creditUsed']} credits")
        rows.append(
            f'<tr data-id="{html.escape(job["id"])}"><td>{image}</td><td><b>{name}</b><br><small>{settings}</small>'
            f'</td><td>{state}<br><progress max="1" value="{job["progress"]:.3f}"></progress></td></tr>'
        )
    return f'<table class="jobs"><tbody>{"".join(rows)}</tbody></table>'


def likeness_part(record: dict) -> str:
    """The caption part " · likeness 83/100" for a completed output that shows a face, else nothing."""
    score = record.get("likeness")
    return "" if score is None else f" · likeness {score}/100"


def history_caption(record: dict, name: str) -> str:
    if record.get("kind") == "video":
        name = f"▶ {name} (video)"  # its poster stands in the history: the badge says it plays
    if record["status"] == "completed":
        return name + likeness_part(record) + (" · 🔗 shared" if record.get("shareUrl") else "")  # time: in details
    return f"Failed: {name} · refunded"


def details(record: dict, name: str) -> str:
    """The selected generation, in full."""
    lines = [
        f"### {name}",
        f"**Status:** {record['status']} · **Quality:** {record['quality'].upper()} "
        f"{record['width']}×{record['height']}",
        f"**Style:** {style_label(record['style'])} · **Seed:** {record['seed']}"
        + (" · **Priority**" if record["priority"] else ""),
        f"**Credits:** {record['creditUsed']} · **Time taken:** {duration(took_seconds(record))}",
        f"**Created:** {record['createdAt'][:19].replace('T', ' ')} UTC",
    ]
    if record["status"] == "completed":
        score = record.get("likeness")
        lines.append(f"**Likeness:** {'no face to compare' if score is None else f'{score}/100'}")
    if record.get("candidates", 1) > 1:
        kept = len(record.get("alternatives", []))
        lines.append(
            f"**Best of {record['candidates']}:** the most alike kept"
            + (f"; {kept} alternatives kept for a day" if kept else "")
        )
    if record["status"] == "failed":
        lines.append(f"**Why it failed:** {record['errorMessage']} ({record['creditUsed']} credits refunded)")
    return "  \n".join(lines)


def stats_line(stats: dict, balance: int) -> str:
    average = stats["averageProcessingTime"]
    likeness = stats.get("averageLikeness")
    return (
        f"**{stats['totalGenerations']}** generations · **{stats['completedGenerations']}** completed · "
        f"**{stats['failedGenerations']}** failed · average time **{duration(average)}** · "
        + ("" if likeness is None else f"average likeness **{likeness}**/100 · ")
        + f"**{stats['totalCreditsUsed']}** credits spent (refunds taken off; generations you deleted still count) · "
        f"balance **{balance}** credits"
    )


def ledger_rows(transactions: list[dict], balance: int) -> list[list]:
    """Newest first, with the balance after each entry (worked back from today's balance)."""
    rows, after = [], balance
    for entry in transactions:
        rows.append([entry["createdAt"][:19].replace("T", " "), entry["reason"], entry["delta"], after])
        after -= entry["delta"]
    return rows


def _words(value: str) -> str:
    return value.replace("-", " ")


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

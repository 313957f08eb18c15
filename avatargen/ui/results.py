"""The create view's results: one tile per generation of the last batch, with its own progress (step %, place in
the queue, time left), the forming image when the engine gives one, Cancel while it waits, and Download once done
(named after the pose and the day)."""

from datetime import datetime

import gradio as gr

from avatargen.presets import STYLES
from avatargen.ui.pictures import pose_src, preview_uri
from avatargen.ui.text import job_state
from avatargen.web.api import Api

TEMPLATE = """${(() => {
  const esc = s => String(s ?? '').replace(/[&<>"']/g, c => '&#' + c.charCodeAt(0) + ';');
  const tiles = (value && value.tiles) || [];
  if (!tiles.length) return `<p class="empty">${esc(value && value.empty)}</p>`;
  return `<ul class="tiles">` + tiles.map(t => `<li class="result ${esc(t.status)}" data-id="${esc(t.id)}">`
    + `<img src="${esc(t.src)}" alt="${esc(t.alt)}" loading="lazy">`
    + `<p class="name">${esc(t.name)}</p><p class="state">${esc(t.state)}</p>`
    + (t.progress === null ? '' :
       `<progress max="1" value="${t.progress}" aria-label="${esc(t.name)}: ${esc(t.state)}"></progress>`)
    + (t.cancel ? `<button type="button" class="cancel" data-cancel="${esc(t.id)}">Cancel`
       + `<span class="sr-only"> ${esc(t.name)}</span></button>` : '')
    + (t.download ? `<a class="download" href="${esc(t.src)}" download="${esc(t.download)}">Download`
       + `<span class="sr-only"> ${esc(t.name)}</span></a>` : '')
    + `</li>`).join('') + `</ul>`;
})()}"""

SCRIPT = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-cancel]');
  if (button) { button.disabled = true; trigger('click', {cancel: button.dataset.cancel}); }
});
// Another tab of this browser changed the page's saved state (started or finished a batch), or this tab came back
// into view: ask the server again.
window.addEventListener('storage', (event) => { if (event.key && event.key.includes('avatargen')) trigger('focus'); });
document.addEventListener('visibilitychange', () => { if (!document.hidden) trigger('focus'); });
// Gradio wraps a shown picture in an unnamed button, and names gallery tiles "Thumbnail n of m" whatever their
// caption says: name them after what they show.
const names = {'photo-preview': 'Your photo', 'selected-image': 'The avatar, full size'};
const name = () => {
  for (const [id, label] of Object.entries(names))
    document.querySelectorAll(`#${id} .image-container > button:not([aria-label])`)
      .forEach(b => b.setAttribute('aria-label', label));
  document.querySelectorAll('.captioned .thumbnail-item').forEach(b => {
    const caption = b.querySelector('.caption-label')?.textContent.trim();
    if (caption && b.getAttribute('aria-label') !== caption) b.setAttribute('aria-label', caption);
  });
};
new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
"""

EMPTY = "Your avatars appear here, each with its progress while it is made."


def build(**options) -> gr.HTML:
    return gr.HTML(
        {"tiles": [], "empty": EMPTY}, html_template=TEMPLATE, js_on_load=SCRIPT, apply_default_css=False, **options
    )


def tiles(api: Api, records: list[dict], names: dict[str, str], outputs: dict[str, str], request: gr.Request) -> dict:
    """The grid's value: `outputs` are the finished ones' pictures (their owner-only URLs), by generation id."""
    poses = {t.id: t for t in api.page.poses_of(list(dict.fromkeys(names)), request)}
    shown = []
    for record in records:
        name = names.get(record["poseTemplateId"], "a pose")
        style = STYLES[record["style"]].label if record["style"] in STYLES else record["style"]
        status = record["status"]
        forming = preview_uri(api, record) if record.get("previewUrl") else None  # the image as it forms
        if status == "completed" and record["id"] in outputs:
            src = outputs[record["id"]]
        elif forming:
            src = forming
        elif record["poseTemplateId"] in poses:
            src = pose_src(api, poses[record["poseTemplateId"]])
        else:
            src = ""
        running = status in ("pending", "processing")
        shown.append(
            {
                "id": record["id"],
                "name": name,
                "alt": f"You, {name.lower()}, {style.lower()}" if status == "completed" else f"{name}: {status}",
                "src": src,
                "status": status,
                "state": job_state(record, record),
                "progress": round(float(record.get("progress") or 0), 3) if running else None,
                "cancel": status == "pending",
                "download": download_name(name, record["createdAt"]) if status == "completed" else None,
            }
        )
    return {"tiles": shown, "empty": EMPTY}


def download_name(pose: str, created_at: str) -> str:
    """`arms-crossed-front-2026-12-01-2305.jpg`: the pose and when it was made."""
    slug = "-".join("".join(c if c.isalnum() else " " for c in pose.lower()).split())[:60] or "avatar"
    moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return f"{slug}-{moment:%Y-%m-%d-%H%M}.jpg"

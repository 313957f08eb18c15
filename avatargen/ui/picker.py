"""The pose grid: the chosen poses and a page of the library as plain buttons, picked and unpicked in the browser.

A click marks the tile at once (border, badge, `aria-pressed`) and then tells the server the whole set of picks
(`input`, latest wins), so quick clicks are never lost and never wait on a round trip. The browser's picks stay
the truth while the server sends other pages; the server replaces them only when it means to (`reset`: a reload,
Clear, a saved own pose, another view of a pose).
"""

import gradio as gr

from avatargen.poses.template import PoseTemplate
from avatargen.ui.pictures import pose_src
from avatargen.web.api import MAX_BATCH, Api

# The template is a JS template string evaluated with the value's fields; names are escaped here, in the browser.
TEMPLATE = """${(() => {
  const esc = s => String(s ?? '').replace(/[&<>"']/g, c => '&#' + c.charCodeAt(0) + ';');
  const picked = value.picked || [];
  const chosen = picked.length
    ? `<b>Chosen poses (${picked.length} of ${value.max}):</b> ` + picked.map(p =>
        `<button type="button" class="chip" data-unpick="${esc(p.id)}">`
        + `<img src="${esc(p.src)}" alt="" width="24" height="36">${esc(p.name)}`
        + `<span class="sr-only"> (remove)</span><span aria-hidden="true"> ×</span></button>`).join('')
      + `<button type="button" class="chip clear" data-clear="1">Clear all</button>`
    : `<b>No pose picked yet.</b> Pick up to ${value.max} below: you get one avatar of you in each.`;
  const tiles = (value.tiles || []).map(t => {
    const on = picked.some(p => p.id === t.id);
    return `<button type="button" class="pose${on ? ' on' : ''}" aria-pressed="${on}" data-pose="${esc(t.id)}"`
      + ` data-name="${esc(t.name)}" data-src="${esc(t.src)}" title="${esc(t.name)}">`
      + `<img src="${esc(t.src)}" alt="" loading="lazy" width="96" height="144">`
      + `<span class="name">${esc(t.name)}</span>`
      + (on ? '<span class="badge" aria-hidden="true">✓</span>' : '') + `</button>`;
  }).join('');
  return `<div id="chosen" class="chosen">${chosen}</div>`
    + `<p class="note" role="status">${esc(value.note)}</p>`
    + `<div class="grid" role="group" aria-label="Poses to pick">${tiles}</div>`;
})()}"""

SCRIPT = """
let mine = null;  // the picks as this browser last set them
element.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  if (!button || !element.contains(button)) return;
  let picked = [...(props.value.picked || [])];
  let note = '';
  if (button.dataset.clear) picked = [];
  else if (button.dataset.unpick) picked = picked.filter(p => p.id !== button.dataset.unpick);
  else if (button.dataset.pose) {
    const id = button.dataset.pose;
    if (picked.some(p => p.id === id)) picked = picked.filter(p => p.id !== id);
    else if (picked.length >= props.value.max)
      note = `You can pick at most ${props.value.max} poses at once. Click a picked pose to unpick it.`;
    else picked.push({id, name: button.dataset.name, src: button.dataset.src});
  } else return;
  mine = picked;
  props.value = {...props.value, picked, note, reset: false};
  trigger('input');
});
watch('value', () => {
  if (props.value.reset || mine === null) { mine = props.value.picked || []; return; }
  if (JSON.stringify(props.value.picked) !== JSON.stringify(mine)) props.value = {...props.value, picked: mine};
});
"""


def build(**options) -> gr.HTML:
    return gr.HTML(
        grid_value([], []),
        html_template=TEMPLATE,
        js_on_load=SCRIPT,
        apply_default_css=False,
        **options,
    )


def tile(api: Api, template: PoseTemplate) -> dict:
    return {"id": template.id, "name": template.name, "src": pose_src(api, template)}


def grid_value(tiles: list[dict], picked: list[dict], *, reset: bool = False, note: str = "") -> dict:
    """What the grid shows: a page of tiles and every pick (each `{id, name, src}`); `reset` replaces the
    browser's picks with these."""
    return {"tiles": tiles, "picked": picked, "max": MAX_BATCH, "reset": reset, "note": note}


def picked_ids(value) -> list[str]:
    """The pick ids a grid value carries (the browser's word: checked again against the library by the caller)."""
    picked = value.get("picked") if isinstance(value, dict) else None
    ids = [p.get("id") for p in picked or [] if isinstance(p, dict)]
    return list(dict.fromkeys(i for i in ids if isinstance(i, str)))[:MAX_BATCH]

"""The page's CSS, in one place: elements are found by the elem_ids and classes the panels give them.

Gradio scopes these rules under its own container, so they name the page's elements (ids, classes), never
`.gradio-container`. Colours meet WCAG AA (4.5:1): the accent is #c2410c on white.
"""

CSS = """
:root, .dark {
  --avatargen-accent: #c2410c; --avatargen-accent-dark: #9a3412;
  --button-primary-background-fill: var(--avatargen-accent);
  --button-primary-background-fill-hover: var(--avatargen-accent-dark);
  --button-primary-text-color: #ffffff; --color-accent: var(--avatargen-accent);
  --body-text-color-subdued: #4b5563; --input-placeholder-color: #4b5563;
  --checkbox-background-color-selected: var(--avatargen-accent);
  --checkbox-border-color-selected: var(--avatargen-accent);
}
#header { align-items: center; }
#header h1 { margin: 0; font-size: 1.35rem; }
#howto p { margin: 0; color: #374151; font-size: 0.9rem; }
#header > div { gap: 0; }
#balance { text-align: right; }
.step h3 { margin: 0 0 4px 0; font-size: 1rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
:focus-visible, input:focus-visible, button:focus-visible, [role=option]:focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px;
}
input[type=radio]:focus-visible, input[type=checkbox]:focus-visible { box-shadow: 0 0 0 3px #1d4ed8; }
footer, footer a, footer button { color: #374151 !important; }
#generate { font-size: 1.1rem; min-height: 48px; }
#generate:disabled { background: #e5e7eb; color: #374151; cursor: not-allowed; }
#generate-reason .reason { margin: 4px 0 0 0; color: #9a3412; font-weight: 600; }
#generate-reason .reason:empty, #generate-reason:has(.reason:empty) { display: none; }
#result-column, #photo-column, #pose-column { gap: 8px; }
#photo-check p { margin: 0; font-weight: 600; }
#status p { margin: 4px 0; }

/* the pose grid: the chosen poses, then the tiles; no scroll box of its own */
#poses .chosen { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
#poses .chip {
  display: inline-flex; align-items: center; gap: 4px; min-height: 44px; padding: 2px 10px;
  border: 2px solid var(--avatargen-accent); border-radius: 22px; background: #fff7ed; color: #111827; cursor: pointer;
}
#poses .chip.clear { border-color: #6b7280; background: #ffffff; }
#poses .note { margin: 0; color: #9a3412; font-weight: 600; min-height: 0; }
#poses .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(84px, 1fr)); gap: 8px; }
#poses button.pose {
  position: relative; display: flex; flex-direction: column; align-items: center; padding: 4px;
  border: 2px solid #d1d5db; border-radius: 8px; background: #111827; color: #ffffff; cursor: pointer; min-height: 44px;
}
#poses button.pose img { width: 100%; height: auto; aspect-ratio: 2 / 3; object-fit: contain; }
#poses button.pose .name { font-size: 0.75rem; line-height: 1.2; padding: 2px; text-align: center; }
#poses button.pose.on { border: 4px solid #f97316; box-shadow: 0 0 0 2px #ffffff inset; }
#poses button.pose .badge {
  position: absolute; top: 4px; right: 4px; width: 28px; height: 28px; border-radius: 14px; font-weight: 700;
  background: var(--avatargen-accent); color: #ffffff; display: flex; align-items: center; justify-content: center;
}
#pager, #filters, #search-row { align-items: center; gap: 8px; }
#filters > div, #search-row > div, #pager > div { padding: 0; }
#pager #pose-page p { margin: 0; text-align: center; }
#no-match { border: 2px dashed var(--avatargen-accent); border-radius: 8px; padding: 12px; }

/* the results: a tile per generation with its own progress */
#results .tiles {
  list-style: none; padding: 0; margin: 0; display: grid; grid-template-columns: repeat(2, 1fr); gap: 8px;
}
#results .result { border: 1px solid #d1d5db; border-radius: 8px; padding: 6px; margin: 0; }
#results .result img { width: 100%; height: 100px; object-fit: contain; background: #111827; }
#results .name { font-weight: 600; margin: 2px 0; line-height: 1.2; }
#results .state { margin: 0; font-size: 0.85rem; }
#results .name { font-size: 0.85rem; }
#quality .wrap label { padding: 4px 10px; }
#results progress { width: 100%; height: 10px; accent-color: var(--avatargen-accent); }
#results .cancel, #results .download {
  display: inline-flex; align-items: center; min-height: 44px; padding: 0 12px; margin-top: 4px;
  border: 1px solid #6b7280; border-radius: 6px; background: #ffffff; color: #111827; text-decoration: none;
}
#results .empty { color: #374151; }

.captioned .caption-label {
  position: static; max-width: 100%; white-space: normal; opacity: 1; border: none; border-radius: 0;
  font-size: 0.8rem; line-height: 1.2; padding: 2px 4px;
}
.captioned .thumbnail-item { aspect-ratio: auto; display: flex; flex-direction: column; }
.captioned .thumbnail-item img { aspect-ratio: 2 / 3; height: auto; object-fit: contain; }
.captioned .grid-wrap { padding-top: 34px; }  /* below the gallery's label, which floats over the top */
#history .grid-container { grid-template-columns: repeat(6, minmax(0, 1fr)) !important; }
table.jobs { width: 100%; border-collapse: collapse; }
table.jobs td { padding: 4px 8px; vertical-align: middle; border-bottom: 1px solid var(--border-color-primary); }
table.jobs progress { width: 100%; }
#delete, #confirm-delete { background: #b91c1c !important; color: #ffffff !important; border-color: #b91c1c; }
.captioned .caption-label { color: #111827 !important; background: #ffffff !important; }
#confirm { border: 2px solid #b91c1c; border-radius: 8px; padding: 8px; }
#confirm button, #selected button { min-height: 44px; }

/* toasts never over Generate (top right on a wide screen): bottom left there, at the top on a phone */
.toast-wrap { top: auto !important; bottom: 16px !important; left: 16px !important; right: auto !important; }
@media (max-width: 640px) {
  #header h1 { font-size: 1.1rem; }
  .toast-wrap { top: 8px !important; bottom: auto !important; left: 8px !important; right: 8px !important; }
  /* the Generate bar: fixed at the bottom of the create view only (the tab hides it elsewhere); the view keeps
     room for it, so it never covers the view's last content */
  #generate-bar {
    position: fixed; left: 0; right: 0; bottom: 0; z-index: 50; padding: 8px 12px;
    background: var(--background-fill-primary); box-shadow: 0 -2px 10px rgba(0, 0, 0, 0.2);
  }
  #create-tab { padding-bottom: 170px; }
  #generate-bar #cost p { margin: 0; font-size: 0.85rem; }
  #generate-reason .reason { font-size: 0.85rem; }
  #photo-preview { height: 180px !important; }
  #poses .grid { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  #filters > div { min-width: 40% !important; }
  #history .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }
  button, .tab-nav button, [role=tab] { min-height: 44px; }
}
"""

"""The page's CSS, in one place: elements are found by the elem_ids and classes the panels give them."""

CSS = """
#header { align-items: center; }
#header h1 { margin: 0; font-size: 1.5rem; }
#balance { text-align: right; }
.captioned .caption-label {
  position: static; max-width: 100%; white-space: normal; opacity: 1; border: none; border-radius: 0;
  font-size: 0.8rem; line-height: 1.2; padding: 2px 4px;
}
.captioned .thumbnail-item { aspect-ratio: auto; display: flex; flex-direction: column; }
.captioned .thumbnail-item img { aspect-ratio: 2 / 3; height: auto; object-fit: contain; }
.captioned .grid-wrap { padding-top: 34px; }  /* below the gallery's label, which floats over the top */
#tray .caption-label { display: none; }
#tray .grid-container { grid-template-columns: repeat(8, minmax(0, 1fr)) !important; grid-auto-rows: auto; }
#examples .grid-container { grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
#history .grid-container { grid-template-columns: repeat(6, minmax(0, 1fr)) !important; }
#results .thumbnail-item img { max-height: 340px; }
#no-match { border: 2px dashed var(--color-accent); border-radius: 8px; padding: 12px; }
table.jobs { width: 100%; border-collapse: collapse; }
table.jobs td { padding: 4px 8px; vertical-align: middle; border-bottom: 1px solid var(--border-color-primary); }
table.jobs progress { width: 100%; }
#confirm { border: 2px solid #ef4444; border-radius: 8px; padding: 8px; }
@media (max-width: 640px) {
  #header h1 { font-size: 1.1rem; }
  #generate-bar {
    position: fixed; left: 0; right: 0; bottom: 0; z-index: 50; padding: 8px 12px;
    background: var(--background-fill-primary); box-shadow: 0 -2px 10px rgba(0, 0, 0, 0.2);
  }
  .gradio-container { padding-bottom: 170px !important; }
  #photo-preview { height: 200px !important; }
  #pose-preview { height: 240px !important; }
  #results { height: 320px !important; }
  #poses .grid-container, #my-poses .grid-container, #history .grid-container {
    grid-template-columns: repeat(3, minmax(0, 1fr)) !important;
  }
}
"""

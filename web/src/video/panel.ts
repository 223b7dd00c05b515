// The video editor's side panel (DOM): the label picker, the track list (select, relabel, delete), the
// keyframe buttons and the shortcuts.
import { h } from "../api.js";
import { COLORS } from "../editor/geometry.js";
import { boxAt, keyframeAt } from "./tracks.js";
import type { VideoEditor } from "./editor.js";

const BOX_KEYS: [string, string][] = [
  ["Drag on the frame", "Draw a box: a new track with the picked label"],
  ["Drag a box or its corner", "Move or resize it: a keyframe on this frame"],
];
const POLYGON_KEYS: [string, string][] = [
  ["Click on the frame", "Add an outline's vertex (Backspace: take the last one back); with a track " +
    "selected, the first click deselects it"],
  ["Enter or the first vertex", "Close the outline: a new track with the picked label (Escape: drop it)"],
  ["Drag an outline or a vertex", "Move it: a keyframe on this frame"],
];

/** The shortcuts of the editor drawing boxes or polygons. */
export const shortcuts = (type: "box" | "polygon"): [string, string][] => [
  ["Space", "Play / pause"],
  [". or →, , or ←", "Next / previous frame (Shift: 10 frames)"],
  ["Home / End", "First / last frame of the segment"],
  ...(type === "polygon" ? POLYGON_KEYS : BOX_KEYS),
  ["1–9", "Pick a label; relabel the selected track"],
  ["O", "Outside from this frame on (again: back in view)"],
  ["Q", "Occluded from this frame on (again: visible)"],
  ["C", "Copy the selected shape to the next frame and go there"],
  ["S", "Split the selected track here: a new track from this frame on"],
  ["Delete", "Delete the selected track's keyframe on this frame"],
  ["Escape", "Deselect"],
  ["Ctrl+Z", "Undo"],
  ["Ctrl+Enter", "Submit"],
];

export class VideoPanel {
  readonly labelBox: HTMLFieldSetElement;
  readonly list: HTMLElement;
  readonly listTitle: HTMLElement;
  readonly info: HTMLElement;
  readonly outsideBtn: HTMLButtonElement;
  readonly copyBtn: HTMLButtonElement;
  readonly deleteKeyBtn: HTMLButtonElement;
  readonly deleteTrackBtn: HTMLButtonElement;
  readonly occludedBtn: HTMLButtonElement;
  readonly splitBtn: HTMLButtonElement;
  readonly mergeSelect: HTMLSelectElement;

  constructor(private readonly ed: VideoEditor) {
    this.labelBox = h("fieldset", { class: "labels" });
    this.listTitle = h("h2", {}, "Tracks");
    this.list = h("ol", { class: "objects tracks", "aria-live": "polite" });
    this.info = h("p", { class: "muted", role: "status", id: "track-info" });
    this.outsideBtn = h("button", { type: "button", title: "O", onclick: () => ed.toggleOutside() }, "Outside from here");
    this.copyBtn = h("button", { type: "button", title: "C", onclick: () => ed.copyToNext() }, "Copy to next frame");
    this.deleteKeyBtn = h("button", { type: "button", title: "Delete", onclick: () => ed.deleteKeyframe() },
      "Delete keyframe");
    this.occludedBtn = h("button", { type: "button", title: "Q", "aria-pressed": "false",
      onclick: () => ed.toggleOccluded() }, "Occluded from here");
    this.splitBtn = h("button", { type: "button", title: "S", onclick: () => ed.split() }, "Split here");
    this.mergeSelect = h("select", { "aria-label": "Merge the selected track with", onchange: () => {
      const id = Number(this.mergeSelect.value);
      this.mergeSelect.value = "";
      if (id) ed.mergeWith(id);
    } });
    this.deleteTrackBtn = h("button", { type: "button", class: "danger", onclick: () => ed.deleteTrack() },
      "Delete track");
  }

  build(root: HTMLElement, player: HTMLElement): void {
    root.replaceChildren(h("div", { class: "workspace video-workspace" },
      h("div", {}, player),
      h("aside", { class: "side" },
        h("div", { class: "card" }, this.labelBox),
        h("div", { class: "card" }, this.listTitle, this.list, this.info,
          h("div", { class: "actions" }, this.outsideBtn, this.occludedBtn, this.copyBtn, this.deleteKeyBtn,
            this.splitBtn, this.mergeSelect, this.deleteTrackBtn)),
        h("div", { class: "card help" }, h("h2", {}, "Shortcuts"),
          shortcuts(this.ed.type).map(([keys, what]) => h("div", {}, h("kbd", {}, keys), ` ${what}`))))));
  }

  buildLabels(): void {
    const ed = this.ed;
    this.labelBox.replaceChildren(h("legend", {}, "Label (number keys)"),
      ...ed.labels.map((label, i) => h("label", {},
        h("input", { type: "radio", name: "label-picker", value: String(i), checked: i === ed.labelIndex,
          onchange: () => ed.chooseLabel(i) }),
        h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }),
        i < 9 ? h("kbd", {}, String(i + 1)) : null, ` ${label}`)));
  }

  showLabel(i: number): void {
    const radio = this.labelBox.querySelector<HTMLInputElement>(`input[value="${i}"]`);
    if (radio) radio.checked = true;
  }

  refresh(): void {
    const ed = this.ed;
    const frame = ed.player.frame;
    const end = ed.end;
    this.list.replaceChildren(...ed.tracks.map((t) => {
      const here = boxAt(t, frame, end);
      const state = here ? (here.keyframe ? "keyframe here" : "interpolated") : "not in view";
      const text = `#${t.id} ${t.label} · ${t.keyframes.length} keyframe${t.keyframes.length === 1 ? "" : "s"} · ${state}`;
      return h("li", { class: t.id === ed.selectedId ? "selected" : "", dataset: { id: String(t.id) } },
        h("button", { type: "button", class: "link-dark", "aria-label": `Select track ${t.id}: ${text}`,
          "aria-pressed": t.id === ed.selectedId ? "true" : "false", onclick: () => ed.select(t.id) }, text),
        h("select", { class: "relabel", "aria-label": `Label of track ${t.id}`,
          onchange: (e: Event) => ed.relabel(t.id, (e.target as HTMLSelectElement).value) },
          ed.labels.map((label) => h("option", { value: label, selected: label === t.label }, label))),
        h("button", { type: "button", class: "toggle danger", "aria-label": `Delete track ${t.id}`,
          onclick: () => ed.deleteTrack(t.id) }, "✕"));
    }));
    this.listTitle.textContent = `Tracks (${ed.tracks.length})`;
    const sel = ed.selectedTrack();
    this.info.textContent = ed.tracks.length ? "" : (ed.type === "polygon"
      ? "No tracks yet: click the outline's vertices on the frame, then Enter. "
      : "No tracks yet: drag on the frame to draw a box. ") + "Submit with none if there is nothing to track.";
    const inView = sel ? boxAt(sel, frame, end) !== null : false;
    this.outsideBtn.disabled = !sel;
    this.outsideBtn.textContent = sel && !inView ? "Back in view here" : "Outside from here";
    this.copyBtn.disabled = !sel || !inView || frame >= ed.end - 1;
    this.deleteKeyBtn.disabled = !sel || !keyframeAt(sel, frame);
    this.deleteTrackBtn.disabled = !sel;
    const here = sel ? boxAt(sel, frame, end) : null;
    this.occludedBtn.disabled = !here;
    this.occludedBtn.setAttribute("aria-pressed", here && here.occluded ? "true" : "false");
    this.occludedBtn.textContent = here && here.occluded ? "Visible from here" : "Occluded from here";
    this.splitBtn.disabled = !here || !sel || !sel.keyframes.some((k) => k.frame < frame && !k.outside);
    const others = sel ? ed.tracks.filter((t) => t.id !== sel.id) : [];
    this.mergeSelect.disabled = !others.length;
    this.mergeSelect.replaceChildren(h("option", { value: "" }, sel ? `Merge #${sel.id} with…` : "Merge with…"),
      ...others.map((t) => h("option", { value: String(t.id) }, `#${t.id} ${t.label}`)));
  }
}

// The editor's side panel and filmstrip (DOM): the label picker, brightness/contrast, the object list
// (select, hide/show, lock/unlock), undo/redo/delete/fit and the tool's own buttons, the shortcut list.
import { h } from "../api.js";
import { COLORS } from "./geometry.js";
import type { Editor } from "./editor.js";

export class Panel {
  filmstrip: HTMLElement;
  labelBox: HTMLFieldSetElement;
  listTitle: HTMLElement;
  list: HTMLElement;
  imageInfo: HTMLElement;
  undoBtn: HTMLButtonElement;
  redoBtn: HTMLButtonElement;
  deleteBtn: HTMLButtonElement;
  fitBtn: HTMLButtonElement;
  lookBox: HTMLElement;
  attributeBox: HTMLElement;
  sheet: HTMLDialogElement;

  constructor(private readonly ed: Editor) {
    const tool = ed.tool;
    this.filmstrip = h("div", { class: "filmstrip", role: "toolbar", "aria-label": "Images in this assignment" });
    this.labelBox = h("fieldset", { class: "labels" });
    this.listTitle = h("h2", {}, `${tool.title} on this image`);
    this.list = h("ol", { class: "objects", "aria-live": "polite" });
    this.undoBtn = h("button", { type: "button", onclick: () => ed.undo(), title: "Ctrl+Z" }, "Undo");
    this.redoBtn = h("button", { type: "button", onclick: () => ed.redo(), title: "Ctrl+Shift+Z" }, "Redo");
    this.deleteBtn = h("button", { type: "button", class: "danger", onclick: () => ed.deleteSelected(),
      title: "Delete" }, `Delete ${tool.noun}`);
    this.fitBtn = h("button", { type: "button", onclick: () => { ed.fit(); ed.render(); },
      title: "Double-click or F" }, "Fit");
    this.imageInfo = h("p", { class: "muted", role: "status" });
    const slider = (key: "brightness" | "contrast", text: string) => h("label", { class: "slider" }, `${text} `,
      h("input", { type: "range", min: "30", max: "250", step: "5", value: "100", "aria-label": text,
        oninput: (e: Event) => { ed.look[key] = Number((e.target as HTMLInputElement).value); ed.render(); } }));
    this.lookBox = h("div", { class: "card look" }, h("h2", {}, "Image"), slider("brightness", "Brightness"),
      slider("contrast", "Contrast"));
    this.attributeBox = h("div", { class: "card attributes", hidden: true });
    this.sheet = this.buildSheet();
  }

  /** The shortcut sheet: every key of the editor and its tool, opened with "?" (Escape closes it). */
  private buildSheet(): HTMLDialogElement {
    const tool = this.ed.tool;
    const rows: [string, string][] = [
      ["1–9", `Pick a label; relabel the selected ${tool.noun}`],
      ["Delete / Backspace", `Delete the selected ${tool.noun}`],
      ["Escape", "Deselect"],
      ["Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y)", "Undo / redo"],
      ["Wheel, + / −", "Zoom at the cursor / at the centre"],
      ["Space+drag, middle button", "Pan"],
      ["F, 0, double-click", "Fit the image"],
      ["N / P, Page Down / Up", "Next / previous image"],
      ["Ctrl+Enter", "Submit the assignment"],
      ["?", "This sheet"],
    ];
    const sheet = h("dialog", { class: "shortcut-sheet", id: "shortcut-sheet", "aria-labelledby": "shortcut-sheet-title" },
      h("div", { class: "dialog-head" }, h("h2", { id: "shortcut-sheet-title" }, "Keyboard shortcuts"),
        h("button", { type: "button", onclick: () => sheet.close() }, "Close")),
      h("table", { class: "data" }, h("tbody", {}, rows.map(([keys, what]) => h("tr", {},
        h("th", { scope: "row" }, h("kbd", {}, keys)), h("td", {}, what))))),
      h("h3", {}, `${tool.title}`), h("ul", {}, tool.help.map((t) => h("li", {}, t))));
    sheet.addEventListener("close", () => this.ed.focusStage());
    return sheet;
  }

  toggleSheet(): void {
    if (this.sheet.open) this.sheet.close(); else this.sheet.showModal();
  }

  build(root: HTMLElement, stage: HTMLElement): void {
    const tool = this.ed.tool;
    this.buildLabels();
    root.replaceChildren(h("div", { class: "workspace" },
      h("div", {}, stage, this.filmstrip),
      h("aside", { class: "side" },
        h("div", { class: "card" }, this.labelBox),
        this.attributeBox,
        this.lookBox,
        h("div", { class: "card" }, this.listTitle, this.list, this.imageInfo,
          h("div", { class: "actions" }, this.undoBtn, this.redoBtn, this.deleteBtn,
            ...(tool.buttons ? tool.buttons(this.ed) : []), this.fitBtn)),
        h("div", { class: "card help" }, h("h2", {}, "Shortcuts"), tool.help.map((t) => h("div", {}, t)),
          h("button", { type: "button", onclick: () => this.toggleSheet(), title: "?" }, "All shortcuts (?)")))),
      this.sheet);
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

  /** Show label i as the picked one (without relabelling anything). */
  showLabel(i: number): void {
    this.ed.labelIndex = i;
    const radio = this.labelBox.querySelector<HTMLInputElement>(`input[value="${i}"]`);
    if (radio) radio.checked = true;
  }

  say(text: string): void { this.imageInfo.textContent = text; }

  refresh(): void {
    const ed = this.ed;
    const tool = ed.tool;
    const item = ed.item;
    this.list.replaceChildren(...item.objects.map((o, n) => {
      const text = tool.describe(o, ed.labels[o.label] ?? "");
      const toggle = (flag: "hidden" | "locked", on: string, off: string, what: string) => h("button", {
        type: "button", class: "toggle", "aria-pressed": o[flag] ? "true" : "false",
        "aria-label": `${o[flag] ? off : on} ${tool.noun} ${n + 1}`, title: what,
        onclick: () => ed.toggleFlag(o.id, flag) }, o[flag] ? off : on);
      return h("li", { class: [o.id === item.selected ? "selected" : "", o.hidden ? "hidden-object" : "",
        o.locked ? "locked-object" : ""].join(" ").trim(), dataset: { id: String(o.id) } },
        h("button", { type: "button", class: "link-dark", "aria-label": `Select ${tool.noun} ${n + 1}: ${text}`,
          "aria-pressed": o.id === item.selected ? "true" : "false", disabled: o.hidden || o.locked,
          onclick: () => ed.select(o.id) }, text),
        h("select", { class: "relabel", "aria-label": `Label of ${tool.noun} ${n + 1}`,
          onchange: (e: Event) => ed.relabel(o.id, Number((e.target as HTMLSelectElement).value)) },
          ed.labels.map((label, i) => h("option", { value: String(i), selected: i === o.label }, label))),
        toggle("hidden", "Hide", "Show", "Hidden objects are not drawn (they are still submitted)"),
        toggle("locked", "Lock", "Unlock", "A locked object cannot be moved, resized or selected"),
        h("button", { type: "button", class: "toggle danger", "aria-label": `Delete ${tool.noun} ${n + 1}`,
          title: "Delete (undo brings it back)", onclick: () => ed.deleteObject(o.id) }, "✕"));
    }));
    this.listTitle.textContent = `${tool.title} on this image (${item.objects.length})`;
    this.imageInfo.textContent = `Image ${ed.index + 1} of ${ed.items.length}` +
      (item.objects.length ? "" : ` — no ${tool.plural} yet: leave it empty if there is nothing to mark`);
    this.undoBtn.disabled = !item.history.canUndo;
    this.redoBtn.disabled = !item.history.canRedo;
    this.deleteBtn.disabled = !ed.selected();
    this.refreshAttributes();
    if (tool.refreshButtons) tool.refreshButtons(ed);
  }

  /** The job's per-object attributes of the selected object: a checkbox, a menu or a text box each
   * (hidden when the job has none or nothing is selected). A change is one undoable step. */
  private refreshAttributes(): void {
    const ed = this.ed;
    const sel = ed.selected();
    const specs = ed.attributeSpecs;
    this.attributeBox.hidden = !specs.length || !sel;
    if (!specs.length || !sel) { this.attributeBox.replaceChildren(); return; }
    const n = ed.item.objects.findIndex((o) => o.id === sel.id) + 1;
    const value = (name: string) => sel.attributes?.[name];
    this.attributeBox.replaceChildren(h("h2", {}, `Attributes of ${ed.tool.noun} ${n}`), ...specs.map((spec) => {
      const set = (v: boolean | string) => ed.setAttribute(sel.id, spec.name, v);
      if (spec.kind === "checkbox") {
        return h("label", { class: "attribute" }, h("input", { type: "checkbox", checked: value(spec.name) === true,
          onchange: (e: Event) => set((e.target as HTMLInputElement).checked) }), ` ${spec.name}`);
      }
      if (spec.kind === "select") {
        const current = String(value(spec.name) ?? spec.values[0]);
        return h("label", { class: "attribute" }, `${spec.name} `, h("select", {
          onchange: (e: Event) => set((e.target as HTMLSelectElement).value) },
        spec.values.map((v) => h("option", { value: v, selected: v === current }, v))));
      }
      return h("label", { class: "attribute" }, `${spec.name} `, h("input", { type: "text", maxlength: "500",
        value: String(value(spec.name) ?? ""), onchange: (e: Event) => set((e.target as HTMLInputElement).value) }));
    }));
  }

  buildFilmstrip(): void {
    const ed = this.ed;
    this.filmstrip.replaceChildren(...ed.items.map((item, i) => h("button", {
      type: "button", "aria-current": i === ed.index ? "true" : "false",
      "aria-label": `Image ${i + 1} of ${ed.items.length}, ${item.objects.length} marked`,
      onclick: () => ed.showItem(i),
    }, h("img", { src: item.thumb, alt: "" }), h("span", { class: "count" }, item.objects.length))));
  }
}

// A histogram of scores in [0, 1] as SVG, drawn by our own code.
const NS = "http://www.w3.org/2000/svg";

function el(tag: string, attrs: Record<string, string | number>, text?: string | number): SVGElement {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** scores: numbers in [0, 1]; target: the accuracy target (a dashed line); bins: bar count. */
export function histogram(scores: number[],
  { target = null, bins = 10, width = 560, height = 220 }: { target?: number | null; bins?: number; width?: number;
    height?: number } = {}): SVGElement {
  const counts = new Array(bins).fill(0);
  for (const s of scores) counts[Math.min(bins - 1, Math.max(0, Math.floor(s * bins)))] += 1;
  const max = Math.max(1, ...counts);
  const pad = { l: 36, r: 12, t: 12, b: 30 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const svg = el("svg", { class: "histogram", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Histogram of ${scores.length} assignment scores` });
  svg.append(el("title", {}, `${scores.length} scored assignments`));
  const bw = w / bins;
  counts.forEach((c, i) => {
    const bh = (c / max) * hgt;
    const bar = el("rect", { class: `bar${target !== null && (i + 1) / bins <= target ? " below" : ""}`,
      x: pad.l + i * bw + 1, y: pad.t + hgt - bh, width: Math.max(0, bw - 2), height: bh });
    bar.append(el("title", {}, `${Math.round((i / bins) * 100)}–${Math.round(((i + 1) / bins) * 100)}%: ${c}`));
    svg.append(bar);
    if (c) svg.append(el("text", { x: pad.l + i * bw + bw / 2, y: pad.t + hgt - bh - 3, "text-anchor": "middle" }, c));
  });
  for (let i = 0; i <= bins; i += bins / 5) {
    svg.append(el("text", { x: pad.l + i * bw, y: height - 10, "text-anchor": "middle" }, `${Math.round((i / bins) * 100)}%`));
  }
  svg.append(el("text", { x: 4, y: pad.t + 10 }, max));
  svg.append(el("line", { x1: pad.l, y1: pad.t + hgt, x2: pad.l + w, y2: pad.t + hgt, stroke: "#999" }));
  if (target !== null) {
    const x = pad.l + target * w;
    svg.append(el("line", { class: "target", x1: x, y1: pad.t, x2: x, y2: pad.t + hgt }));
    svg.append(el("text", { x: x + 4, y: pad.t + 10 }, `target ${Math.round(target * 100)}%`));
  }
  return svg;
}

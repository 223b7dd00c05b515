// Drawing the editor's objects on its canvas (screen pixels; the editor maps image coordinates).

/** One colour per label, in label order (the editor, its label picker and the results browser). */
export const COLORS = ["#ff6b6b", "#4dabf7", "#69db7c", "#ffd43b", "#da77f2", "#ff922b", "#3bc9db", "#a9e34b",
  "#f783ac"];
const HANDLE = 5; // handle half-size, screen px

export function drawObject(ed, o, selected) {
  const ctx = ed.ctx;
  const color = COLORS[o.label % COLORS.length];
  ctx.strokeStyle = color;
  ctx.lineWidth = selected ? 3 : 2;
  if (ed.mode === "polygons") {
    drawPolygon(ed, o, selected, color);
  } else if (ed.mode === "boxes") {
    const a = ed.toScreen(o.x, o.y);
    const b = ed.toScreen(o.x + o.w, o.y + o.h);
    ctx.fillStyle = selected ? "rgba(255,255,255,0.12)" : "rgba(0,0,0,0)";
    ctx.fillRect(a.x, a.y, b.x - a.x, b.y - a.y);
    ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
    drawTag(ctx, ed.labels[o.label], a.x, a.y, color);
    if (selected) {
      ctx.fillStyle = "#fff";
      for (const [hx, hy] of Object.values(ed.handlePoints(o))) {
        ctx.fillRect(hx - HANDLE, hy - HANDLE, HANDLE * 2, HANDLE * 2);
        ctx.strokeRect(hx - HANDLE, hy - HANDLE, HANDLE * 2, HANDLE * 2);
      }
    }
  } else {
    const s = ed.toScreen(o.x, o.y);
    ctx.beginPath();
    ctx.arc(s.x, s.y, selected ? 7 : 5, 0, Math.PI * 2);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.strokeStyle = selected ? "#fff" : "#000";
    ctx.stroke();
    drawTag(ctx, ed.labels[o.label], s.x + 8, s.y - 8, color);
  }
}

/** Twice the signed area of a ring of {x, y} points (shoelace). */
export function ringArea(ring) {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) sum += (ring[j].x + ring[i].x) * (ring[j].y - ring[i].y);
  return sum / 2;
}

/** An SVG path of flat rings [[x0, y0, x1, y1, ...], ...] (fill it with fill-rule="evenodd"). */
export function ringsPath(rings) {
  return rings.map((ring) => {
    const pts = [];
    for (let k = 0; k + 1 < ring.length; k += 2) pts.push(`${ring[k]} ${ring[k + 1]}`);
    return `M${pts.join("L")}Z`;
  }).join("");
}

/** A polygon: its rings filled even-odd (holes stay open), the vertices of the selected one as handles
 * (the vertex Delete would remove drawn solid). */
function drawPolygon(ed, o, selected, color) {
  const ctx = ed.ctx;
  ctx.beginPath();
  for (const ring of o.rings) {
    ring.forEach((p, i) => {
      const s = ed.toScreen(p.x, p.y);
      if (i) ctx.lineTo(s.x, s.y); else ctx.moveTo(s.x, s.y);
    });
    ctx.closePath();
  }
  ctx.save();
  ctx.globalAlpha = selected ? 0.35 : 0.22;
  ctx.fillStyle = color;
  ctx.fill("evenodd");
  ctx.restore();
  ctx.stroke();
  const first = o.rings[0] && o.rings[0][0] ? ed.toScreen(o.rings[0][0].x, o.rings[0][0].y) : null;
  if (first) drawTag(ctx, ed.labels[o.label], first.x, first.y, color);
  if (!selected) return;
  const active = ed.active && ed.active.id === o.id ? ed.active : null;
  o.rings.forEach((ring, r) => ring.forEach((p, i) => {
    const s = ed.toScreen(p.x, p.y);
    const on = active && active.ring === r && active.index === i;
    ctx.fillStyle = on ? color : "#fff";
    ctx.fillRect(s.x - HANDLE + 1, s.y - HANDLE + 1, (HANDLE - 1) * 2, (HANDLE - 1) * 2);
    ctx.strokeRect(s.x - HANDLE + 1, s.y - HANDLE + 1, (HANDLE - 1) * 2, (HANDLE - 1) * 2);
  }));
}

/** Boxes: thin lines through the pointer across the image, to line up a box's edges. */
export function drawCrosshair(ed) {
  const c = ed.cursor;
  if (ed.mode !== "boxes" || !c || (ed.drag && ed.drag.kind !== "draw")) return;
  if (!ed.insideImage(ed.toImage(c.x, c.y))) return;
  const ctx = ed.ctx;
  const a = ed.toScreen(0, 0);
  const b = ed.toScreen(ed.item.width, ed.item.height);
  ctx.save();
  ctx.strokeStyle = "rgba(255,255,255,0.7)";
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(a.x, c.y); ctx.lineTo(b.x, c.y);
  ctx.moveTo(c.x, a.y); ctx.lineTo(c.x, b.y);
  ctx.stroke();
  ctx.restore();
}

function drawTag(ctx, text, x, y, color) {
  ctx.font = "12px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 8;
  const top = Math.max(0, y - 17);
  ctx.fillStyle = color;
  ctx.fillRect(x, top, w, 16);
  ctx.fillStyle = "#000";
  ctx.fillText(text, x + 4, top + 12);
}

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
  if (ed.mode === "boxes") {
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

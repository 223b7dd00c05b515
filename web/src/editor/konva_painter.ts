// The Painter of tool.ts on a Konva layer: each shape is a Konva node; a pickable one carries its Hit
// (attribute "hit") and Konva's hit canvas answers "what is under the pointer" (Editor.hitAt).
import Konva from "konva/lib/Core";
import { Circle } from "konva/lib/shapes/Circle";
import { Line } from "konva/lib/shapes/Line";
import { Rect } from "konva/lib/shapes/Rect";
import type { Pt } from "./geometry.js";
import type { Hit, Painter, Stroke } from "./tool.js";

/** "#4dabf7" with an opacity → "rgba(77,171,247,0.22)". */
function withAlpha(color: string, alpha: number | undefined): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m || alpha === undefined) return color;
  const n = Number.parseInt(m[1], 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export class KonvaPainter implements Painter {
  /** false while painting an object that cannot be picked (locked). */
  pickable = true;

  constructor(private readonly layer: Konva.Layer) {}

  private style(style: Stroke, hit: Hit | undefined, hitPad = 0): Record<string, unknown> {
    const listening = Boolean(hit) && this.pickable;
    return {
      stroke: style.width > 0 ? style.color : undefined,
      strokeWidth: style.width,
      dash: style.dash,
      fill: style.fill ? withAlpha(style.fill, style.fillAlpha) : undefined,
      listening,
      hit: listening ? hit : undefined,
      hitStrokeWidth: hitPad > 0 ? 2 * hitPad : "auto",
      perfectDrawEnabled: false,
    };
  }

  rect(x: number, y: number, w: number, h: number, style: Stroke, hit?: Hit, hitPad = 0): void {
    this.layer.add(new Rect({ x, y, width: w, height: h, ...this.style(style, hit, hitPad) }));
  }

  circle(x: number, y: number, r: number, style: Stroke, hit?: Hit, hitPad = 0): void {
    this.layer.add(new Circle({ x, y, radius: r, ...this.style(style, hit, hitPad) }));
  }

  line(points: Pt[], style: Stroke, hit?: Hit, hitPad = 0): void {
    const attrs = this.style(style, hit, hitPad);
    if (!attrs.stroke) attrs.stroke = "rgba(0,0,0,0)"; // an invisible line is still picked along its stroke
    this.layer.add(new Line({ points: points.flatMap((p) => [p.x, p.y]), ...attrs, strokeWidth: Math.max(style.width, 1),
      lineCap: "butt", lineJoin: "miter" }));
  }

  rings(rings: Pt[][], style: Stroke, hit?: Hit): void {
    this.layer.add(new Konva.Shape({
      ...this.style(style, hit),
      fillRule: "evenodd",
      sceneFunc: (ctx, shape) => {
        ctx.beginPath();
        for (const ring of rings) {
          ring.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
          ctx.closePath();
        }
        ctx.fillStrokeShape(shape);
      },
    }));
  }

  tag(text: string, x: number, y: number, color: string): void {
    this.layer.add(new Konva.Shape({
      listening: false,
      sceneFunc: (ctx) => {
        const c = ctx._context;
        c.font = "12px system-ui, sans-serif";
        const w = c.measureText(text).width + 8;
        const top = Math.max(0, y - 17);
        c.fillStyle = color;
        c.fillRect(x, top, w, 16);
        c.fillStyle = "#000";
        c.fillText(text, x + 4, top + 12);
      },
    }));
  }
}

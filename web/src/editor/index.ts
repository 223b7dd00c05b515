// The image editor for a job type, with its tool: the annotation page loads this module (and Konva with
// it) as its own chunk, so the page shell and the tiled classification grid do not wait for it.
import { BoxTool } from "./box_tool.js";
import { Editor } from "./editor.js";
import { PointTool } from "./point_tool.js";
import { PolygonTool } from "./polygon_tool.js";
import type { Assist } from "./polygon_tool.js";
import type { Tool } from "./tool.js";

/** One editor, one tool per geometry: boxes, points, polygons (with the box-to-polygon assist). */
export function imageEditor(root: HTMLElement, jobType: string, { onChange, assist }: { onChange: () => void;
  assist: Assist }): Editor {
  const tools: Record<string, () => Tool> = {
    boxes: () => new BoxTool(),
    points: () => new PointTool(),
    polygons: () => new PolygonTool(assist),
  };
  const tool = (tools[jobType] || tools.boxes)();
  return new Editor(root, tool, { labels: [], onChange });
}

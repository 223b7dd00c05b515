// The video editor, loaded by the annotation page as a chunk of its own (with fflate) when a video
// assignment is shown.
import { VideoEditor } from "./editor.js";

export function videoEditor(root: HTMLElement, { onChange, kind }: { onChange: () => void; kind: string }):
  VideoEditor {
  return new VideoEditor(root, onChange, kind === "video_polygons" ? "polygon" : "box");
}

// Reads {"end": n, "tracks": [...]} as JSON on stdin and writes, as JSON on stdout, each track's
// interpolated shapes and its shapeAt() on every frame from -1 to end
// (web/src/tracks/interpolate.js): the browser half of the golden test
// tests/video/test_video_tracks_golden.py. No dependencies: `node web/test/interpolate_golden.mjs`.
import { interpolate, shapeAt } from "../src/tracks/interpolate.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = input.tracks.map((track) => {
  const at = [];
  for (let frame = -1; frame <= input.end; frame++) at.push(shapeAt(track, frame, input.end));
  return { shapes: interpolate(track, input.end), at };
});
process.stdout.write(JSON.stringify(out));

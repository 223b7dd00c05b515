// Frames of a video segment, frame-exact: each chunk the claim lists is a zip of JPEGs (member
// `000036.jpg` is frame 36), fetched with the page's cookies like an image rendition, unpacked with
// fflate and decoded with createImageBitmap. No <video> element and no seeking by time: frame k is
// member k of its chunk. A few chunks are kept (least recently used goes first) and the next one is
// fetched ahead.
import { unzipSync } from "fflate";

/** One chunk of a claim's `video.chunks`. */
export interface ChunkRef { index: number; first_frame: number; frame_count: number; url: string }

type Members = Map<number, Uint8Array>;

/** The frame number of a chunk member's name (`000036.jpg` → 36), or null for anything else. */
export function memberFrame(name: string): number | null {
  const m = /^(\d+)\.jpe?g$/i.exec(name);
  return m ? Number(m[1]) : null;
}

/** The JPEG bytes of each frame in a chunk zip. */
export function unpackChunk(zip: Uint8Array): Members {
  const out: Members = new Map();
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    const frame = memberFrame(name);
    if (frame !== null) out.set(frame, bytes);
  }
  return out;
}

export class FrameSource {
  private readonly cache = new Map<number, Promise<Members>>(); // chunk index → its members, LRU order
  /** Bytes fetched so far and chunk loads, for the page's timings. */
  readonly stats = { bytes: 0, chunks: 0 };

  constructor(private readonly refs: ChunkRef[], private readonly keep = 4) {}

  /** The chunk holding frame n (of those the claim lists), if any. */
  chunkOf(n: number): ChunkRef | undefined {
    return this.refs.find((c) => c.first_frame <= n && n < c.first_frame + c.frame_count);
  }

  private members(ref: ChunkRef): Promise<Members> {
    const cached = this.cache.get(ref.index);
    if (cached) {
      this.cache.delete(ref.index); // most recently used goes last
      this.cache.set(ref.index, cached);
      return cached;
    }
    const loading = this.fetchChunk(ref);
    loading.catch(() => { if (this.cache.get(ref.index) === loading) this.cache.delete(ref.index); });
    this.cache.set(ref.index, loading);
    while (this.cache.size > this.keep) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined || oldest === ref.index) break;
      this.cache.delete(oldest);
    }
    return loading;
  }

  private async fetchChunk(ref: ChunkRef): Promise<Members> {
    const response = await fetch(ref.url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`frames ${ref.first_frame}–${ref.first_frame + ref.frame_count - 1}: ` +
      `HTTP ${response.status}`);
    const zip = new Uint8Array(await response.arrayBuffer());
    this.stats.bytes += zip.byteLength;
    this.stats.chunks += 1;
    return unpackChunk(zip);
  }

  /** Frame n decoded (the caller closes the bitmap when done). */
  async frame(n: number): Promise<ImageBitmap> {
    const ref = this.chunkOf(n);
    if (!ref) throw new Error(`frame ${n} is not in this segment's chunks`);
    const bytes = (await this.members(ref)).get(n);
    if (!bytes) throw new Error(`frame ${n} is missing from its chunk`);
    return createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "image/jpeg" }));
  }

  /** Start fetching the chunk after the one holding frame n (and that one, if not there yet). */
  prefetch(n: number): void {
    const ref = this.chunkOf(n);
    if (!ref) return;
    const next = this.refs.find((c) => c.index === ref.index + 1);
    for (const r of next ? [next] : []) if (!this.cache.has(r.index)) this.members(r).catch(() => {});
  }

  /** Is frame n's chunk already fetched or on its way? */
  has(n: number): boolean {
    const ref = this.chunkOf(n);
    return ref !== undefined && this.cache.has(ref.index);
  }
}

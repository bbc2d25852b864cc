/**
 * A bounded LRU of rendered images. Rendering is deterministic (same payload and options, same
 * bytes), so identical requests are served from memory. Bounded by entries and bytes; a Map's
 * insertion order is the recency order.
 */
export interface RenderedImage {
  body: Buffer | string;
  contentType: string;
  etag: string;
}

export interface RenderCache {
  get(key: string): RenderedImage | undefined;
  set(key: string, image: RenderedImage): void;
  readonly size: number;
}

export function createRenderCache(limits: { maxEntries: number; maxBytes: number }): RenderCache {
  /** `at`: the insertion clock when the entry was added or last moved to the young end. */
  const entries = new Map<string, { image: RenderedImage; at: number }>();
  let bytes = 0;
  let clock = 0;
  const weight = (image: RenderedImage) => image.body.length + 64;
  // A hit moves its entry to the young end only when it has aged past the youngest quarter:
  // moving (a Map delete and set) on every hit was a measurable part of serving a cached image.
  // Eviction still takes the oldest; with maxEntries < 4 this is exact LRU.
  const youngest = Math.floor(limits.maxEntries / 4);

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (clock - entry.at > youngest) {
        entries.delete(key);
        entry.at = ++clock;
        entries.set(key, entry);
      }
      return entry.image;
    },
    set(key, image) {
      if (weight(image) > limits.maxBytes) return;
      const old = entries.get(key);
      if (old !== undefined) {
        entries.delete(key);
        bytes -= weight(old.image);
      }
      entries.set(key, { image, at: ++clock });
      bytes += weight(image);
      for (const [oldestKey, oldest] of entries) {
        if (entries.size <= limits.maxEntries && bytes <= limits.maxBytes) break;
        entries.delete(oldestKey);
        bytes -= weight(oldest.image);
      }
    },
    get size() {
      return entries.size;
    },
  };
}

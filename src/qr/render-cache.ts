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
  const entries = new Map<string, RenderedImage>();
  let bytes = 0;
  const weight = (image: RenderedImage) => image.body.length + 64;

  return {
    get(key) {
      const image = entries.get(key);
      if (image !== undefined) {
        entries.delete(key);
        entries.set(key, image);
      }
      return image;
    },
    set(key, image) {
      if (weight(image) > limits.maxBytes) return;
      const old = entries.get(key);
      if (old !== undefined) {
        entries.delete(key);
        bytes -= weight(old);
      }
      entries.set(key, image);
      bytes += weight(image);
      for (const [oldestKey, oldest] of entries) {
        if (entries.size <= limits.maxEntries && bytes <= limits.maxBytes) break;
        entries.delete(oldestKey);
        bytes -= weight(oldest);
      }
    },
    get size() {
      return entries.size;
    },
  };
}

// The source seam of ingest: an async stream of units (a file, an upload, a fetched page, a
// record), each with a key, its bytes on demand, a media type and metadata. Ingest knows
// nothing else about where units come from.
import type { MetadataValue } from "../types.js";

export interface Source {
  /** The unit key in the collection (a relative path, a URL, `records#id`); unique per stream. */
  key: string;
  /** The name chunks cite as `source`; default the key. */
  name?: string;
  /** Declared media type (may carry `; charset=…`); absent or application/octet-stream: sniffed,
   *  then the key's extension. */
  mediaType?: string;
  /** The unit's content, read once when ingest needs it (not for units it can skip by `contentHash`). */
  bytes(): Promise<Uint8Array>;
  /** Metadata on every chunk of the unit (wins over what the loader found). */
  metadata?: Record<string, MetadataValue>;
  /** The group this unit belongs to (a folder's absolute path, a site, a records' source): what a
   *  complete stream syncs. Default "sources". */
  root?: string;
  /** Size in bytes when known (progress only). */
  size?: number;
  /** A fingerprint of the content the source already knows (e.g. a crawler's stored hash for a
   *  page answered 304): when it matches the committed unit, `bytes()` is never called. */
  contentHash?: string;
}

export interface SourceStream extends AsyncIterable<Source> {
  /**
   * Set by a stream that lists a whole scope (a folder, a crawled site) once it has yielded all of
   * it: after a complete run, units of this root it did not yield are removed. Read only after the
   * iteration ended without error, so a partial run never deletes.
   */
  readonly syncRoot?: string | undefined;
}

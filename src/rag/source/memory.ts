// Sources held in memory: uploads (bytes with a declared media type, as an HTTP server receives
// them) and records (id, title, text, metadata), which become text/plain units keyed
// `source#id` and cited as `source`.
import { InfuseError } from "../../core/errors.js";
import type { MetadataValue } from "../types.js";
import type { Source, SourceStream } from "./types.js";

export interface Upload {
  key: string;
  bytes: Uint8Array;
  /** The declared type (e.g. a request's Content-Type); absent: sniffed, then the key's extension. */
  mediaType?: string;
  name?: string;
  metadata?: Record<string, MetadataValue>;
  root?: string;
}

/** One in-memory unit as a source. */
export function bytesSource(upload: Upload): Source {
  const { bytes, ...rest } = upload;
  return { ...rest, size: bytes.byteLength, bytes: () => Promise.resolve(bytes) };
}

export interface UploadSourceOptions {
  /** Root of every upload without its own; default "upload". */
  root?: string;
  /** The uploads are the whole of `root`: after the stream ends, units of it not uploaded are removed. */
  complete?: boolean;
}

/** A list (or stream) of uploads as a source stream. */
export function uploadSource(
  uploads: Iterable<Upload> | AsyncIterable<Upload>,
  options: UploadSourceOptions = {},
): SourceStream {
  const root = options.root ?? "upload";
  const stream = {
    syncRoot: undefined as string | undefined,
    async *[Symbol.asyncIterator](): AsyncGenerator<Source> {
      stream.syncRoot = undefined;
      for await (const u of uploads) yield bytesSource({ root, ...u });
      if (options.complete) stream.syncRoot = root;
    },
  };
  return stream;
}

export interface IngestRecord {
  id: string;
  text: string;
  title?: string;
  metadata?: Record<string, MetadataValue>;
}

export interface RecordsSourceOptions {
  /** The `source` chunks cite and the root of the units; default "records". */
  source?: string;
  /** Prefix the title to the text that is embedded and indexed; default true. */
  titleInText?: boolean;
  /** The records are the whole of `source`: after the stream ends, records not in it are removed. */
  complete?: boolean;
}

/** Records as text/plain units keyed `source#id`, with `doc_id` (and `title`) metadata. */
export function recordsSource(
  records: Iterable<IngestRecord> | AsyncIterable<IngestRecord>,
  options: RecordsSourceOptions = {},
): SourceStream {
  const source = options.source ?? "records";
  const encoder = new TextEncoder();
  const stream = {
    syncRoot: undefined as string | undefined,
    async *[Symbol.asyncIterator](): AsyncGenerator<Source> {
      stream.syncRoot = undefined;
      for await (const r of records) {
        if (typeof r.id !== "string" || r.id.length === 0 || typeof r.text !== "string") {
          throw new InfuseError(
            "rag.record_invalid",
            `record ${JSON.stringify(r.id)} needs a non-empty string id and a string text`,
            { kind: "input", hint: "give every record an id (string) and a text (string)" },
          );
        }
        const text = r.title && options.titleInText !== false ? `${r.title}\n${r.text}` : r.text;
        const metadata: Record<string, MetadataValue> = {
          ...r.metadata,
          doc_id: r.id,
          ...(r.title ? { title: r.title } : {}),
        };
        yield bytesSource({
          key: `${source}#${r.id}`,
          name: source,
          root: source,
          mediaType: "text/plain; charset=utf-8",
          bytes: encoder.encode(text),
          metadata,
        });
      }
      if (options.complete) stream.syncRoot = source;
    },
  };
  return stream;
}

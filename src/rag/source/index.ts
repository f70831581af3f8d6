// Sources for ingest: the seam (types.ts) and its implementations: folders, uploads, records.
export type { Source, SourceStream } from "./types.js";
export { folderSource } from "./folder.js";
export {
  bytesSource,
  uploadSource,
  recordsSource,
  type Upload,
  type UploadSourceOptions,
  type IngestRecord,
  type RecordsSourceOptions,
} from "./memory.js";

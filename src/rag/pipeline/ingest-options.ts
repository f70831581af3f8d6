// Everything `infuse ingest`, ingestPath()/ingestSources()/ingestRecords() and the config file's
// `ingest` section accept as settings, in one zod schema: each field's type, its error wording, its
// command-line flag and help line. The library validates with it before it opens anything, the CLI
// builds its flags from it, the config file checks its `ingest` section with it. Runtime parts (the
// embedder object, the store, the signal, progress) are not settings and stay in IngestOptions.
import { z } from "zod";
import { endpointSchema } from "../../core/config.js";
import type { InfuseError } from "../../core/errors.js";
import { flagFields, optionError, type FlagField, type FlagMeta } from "../../core/option-schema.js";
import { OCR_DEFAULTS, OCR_MODES } from "../load/ocr/index.js";
import { SPLITTER_KINDS, splitterSettings, type SplitterKind } from "../split/index.js";
import { DEFAULT_BATCH_CHUNKS, DEFAULT_BATCH_UNITS, DEFAULT_EMBED_BATCH } from "./ingest-batch.js";

/** A field's command line: `flag` names it in errors; fields with `help` are flags the CLI makes. */

const want = {
  posInt: "a positive integer",
  nonNegInt: "an integer ≥ 0",
  bool: "true or false",
  name: "a non-empty string",
  globs: "a list of glob patterns",
  kind: `${SPLITTER_KINDS.slice(0, -1).join(", ")} or ${SPLITTER_KINDS.at(-1)}`,
  ocrMode: "auto, off or force",
  languages: 'tesseract language codes joined by "+", e.g. eng or eng+vie',
  dpi: "an integer from 72 to 1200",
  spec: 'an embedder spec ("hash", a model path, hf:…, openai:MODEL, ollama:MODEL) or { provider, model, baseUrl }',
} as const;

const posInt = () => z.int({ error: want.posInt }).min(1, { error: want.posInt });
const nonNegInt = () => z.int({ error: want.nonNegInt }).min(0, { error: want.nonNegInt });
const bool = () => z.boolean({ error: want.bool });
const name = () => z.string({ error: want.name }).min(1, { error: want.name });
const globs = () => z.array(z.string({ error: want.globs }).min(1, { error: want.globs }), { error: want.globs });
const opt = <T extends z.ZodType>(t: T, meta: FlagMeta) => t.exactOptional().meta(meta);

const SplitterSchema = z
  .strictObject({
    kind: opt(z.enum(SPLITTER_KINDS as [SplitterKind, ...SplitterKind[]], { error: want.kind }), {
      flag: "--splitter",
      arg: "<kind>",
      help: `how documents are split: ${SPLITTER_KINDS.join("|")} (markdown)`,
    }),
    /** Largest chunk: characters, or tokens for `token`; default 1000 (256 tokens). */
    chunkSize: opt(posInt(), {
      flag: "--chunk-size",
      arg: "<n>",
      help: "largest chunk: characters, or tokens with --splitter token (1000; 256 with token)",
    }),
    /** How much of a chunk the next one repeats (chunkSize's unit); default min(150 or 32, chunkSize/4). */
    overlap: opt(nonNegInt(), {
      flag: "--overlap",
      arg: "<n>",
      help: "overlap between neighbouring chunks, in --chunk-size's unit (150; 32 with token; at most a quarter of the chunk)",
    }),
  })
  .superRefine((s, ctx) => {
    // the overlap must stay below the chunk size it applies to (the kind's default when unset)
    if (s.overlap === undefined || (s.kind !== undefined && !SPLITTER_KINDS.includes(s.kind))) return;
    if (s.chunkSize !== undefined && !(Number.isInteger(s.chunkSize) && s.chunkSize >= 1)) return;
    const { chunkSize } = splitterSettings({
      ...(s.kind !== undefined ? { kind: s.kind } : {}),
      ...(s.chunkSize !== undefined ? { chunkSize: s.chunkSize } : {}),
    });
    if (Number.isInteger(s.overlap) && s.overlap >= chunkSize)
      ctx.addIssue({
        code: "custom",
        path: ["overlap"],
        message: `an integer ≥ 0 below the chunk size (${chunkSize})`,
      });
  });

/** Full-text (BM25) analyzer; fixed when a collection is created. Default English, stemmed, stop words out. */
const FtsSchema = z.strictObject({
  language: opt(name(), {
    flag: "--bm25-language",
    arg: "<language>",
    help: "full-text analyzer language of a new collection (English)",
  }),
  stem: opt(bool(), {
    flag: "--stemming",
    help: "new collection: stem words in the full-text index (default)",
    off: "new collection: index words unstemmed",
  }),
  removeStopWords: opt(bool(), {
    flag: "--stop-words",
    help: "new collection: leave stop words out of the full-text index (default)",
    off: "new collection: keep stop words in the full-text index",
  }),
  lowercase: bool().exactOptional(),
  asciiFolding: bool().exactOptional(),
});

/** CSV/JSON/JSONL column choices. */
const TabularSchema = z.strictObject({
  /**
   * Column (CSV) or field (JSON/JSONL) holding the text. Default: a CSV row is every column as
   * `column: value` lines; JSON/JSONL use "text", "content", "body" or "passage", else every field.
   */
  textColumn: opt(name(), {
    flag: "--text-column",
    arg: "<name>",
    help: "CSV column / JSON field holding the text (default: CSV rows as `column: value` lines of every column; JSON: text, content, body, else every field)",
  }),
  /** Column/field naming each record (kept as metadata `doc_id`); default "_id" or "id" if present. */
  idColumn: opt(name(), {
    flag: "--id-column",
    arg: "<name>",
    help: "CSV column / JSON field naming each record (kept as doc_id)",
  }),
});

/** OCR of images and of PDF pages without a text layer (tesseract; pdftoppm renders the pages). */
const OcrSchema = z.strictObject({
  mode: opt(z.enum(OCR_MODES, { error: want.ocrMode }), {
    flag: "--ocr",
    arg: "<mode>",
    help: "OCR: auto (images and PDF pages without text; default), off, or force (every PDF page too)",
  }),
  languages: opt(
    z.string({ error: want.languages }).regex(/^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$/, { error: want.languages }),
    {
      flag: "--ocr-lang",
      arg: "<langs>",
      help: `tesseract languages joined by "+", installed ones only (${OCR_DEFAULTS.languages}; e.g. eng+vie)`,
    },
  ),
  dpi: opt(z.int({ error: want.dpi }).min(72, { error: want.dpi }).max(1200, { error: want.dpi }), {
    flag: "--ocr-dpi",
    arg: "<n>",
    help: `resolution PDF pages are rendered at for OCR (${OCR_DEFAULTS.dpi})`,
  }),
  /** The tesseract program; default INFUSE_TESSERACT, else `tesseract` on PATH (config file / library only). */
  tesseract: name().exactOptional(),
  /** The pdftoppm program; default INFUSE_PDFTOPPM, else `pdftoppm` on PATH (config file / library only). */
  pdftoppm: name().exactOptional(),
  /** Longest one page's render or OCR may run (seconds); default 120. */
  timeoutSeconds: posInt().exactOptional(),
});

export const IngestSettingsSchema = z.strictObject({
  /** How to recreate the embedder later (stored with the collection; an endpoint keeps its base URL); default its id. */
  embedderSpec: opt(
    z.union([z.string({ error: want.spec }).min(1, { error: want.spec }), endpointSchema], { error: want.spec }),
    {
      flag: "--embedder",
      arg: "<spec>",
      help: 'embedding model: "hash-1024-unigram-stop" (built-in, lexical; also hash[-N][-unigram][-stop]), a model path or hf: reference, openai:MODEL, ollama:MODEL (default: the collection\'s, else rag.embedder, else hash-1024-unigram-stop)',
    },
  ),
  splitter: SplitterSchema.exactOptional(),
  fts: FtsSchema.exactOptional(),
  tabular: TabularSchema.exactOptional(),
  ocr: OcrSchema.exactOptional(),
  /** Only files matching these globs (relative to the folder); ingestPath only. */
  include: opt(globs(), {
    flag: "--include",
    arg: "<glob...>",
    help: "only files matching these globs (relative to PATH)",
  }),
  /** Files matching these globs are skipped; ingestPath only. */
  exclude: opt(globs(), { flag: "--exclude", arg: "<glob...>", help: "skip files matching these globs" }),
  /** Units per commit; a smaller batch loses less to an interruption, costs more commits. */
  batchSize: opt(posInt(), {
    flag: "--batch-size",
    arg: "<n>",
    help: `files per commit (${DEFAULT_BATCH_UNITS}): an interrupted ingest keeps every committed batch`,
  }),
  /** Chunks per commit (a batch is committed when it reaches either limit). */
  batchChunks: opt(posInt(), {
    flag: "--batch-chunks",
    arg: "<n>",
    help: `chunks per commit (${DEFAULT_BATCH_CHUNKS}); a batch commits at whichever limit comes first`,
  }),
  /** Texts per embedding call. */
  embedBatchSize: opt(posInt(), {
    flag: "--embed-batch-size",
    arg: "<n>",
    help: `texts per embedding call (${DEFAULT_EMBED_BATCH})`,
  }),
});

/** Ingest settings as the library, the CLI and the config file take them (every field optional). */
export type IngestSettings = z.input<typeof IngestSettingsSchema>;

/**
 * The config file's `ingest` section: defaults for every setting but the embedder, which lives in
 * `rag.embedder` because `ask` must use the same one.
 */
export const IngestConfigSchema = IngestSettingsSchema.omit({ embedderSpec: true });
export type IngestConfig = z.input<typeof IngestConfigSchema>;

/** Every setting that has a flag, nested ones included, in the schema's order. */
export const INGEST_FLAG_FIELDS: readonly FlagField[] = flagFields(IngestSettingsSchema);

/** The flag of a setting (`splitter.chunkSize` → `--chunk-size`). */
export function ingestFlag(option: string): string | undefined {
  return INGEST_FLAG_FIELDS.find((f) => f.path.join(".") === option)?.meta.flag;
}

/** The schema's first complaint as `rag.bad_ingest_option`, naming the setting and its flag. */
function badOption(error: z.ZodError, input: unknown): InfuseError {
  return optionError(error, input, {
    code: "rag.bad_ingest_option",
    noun: "an ingest option",
    flagOf: (path) => ingestFlag(path.join(".")),
  });
}

const SETTING_KEYS = Object.keys(IngestSettingsSchema.shape) as (keyof IngestSettings)[];

/**
 * The settings among `options` (the runtime parts beside them left out), validated by
 * IngestSettingsSchema; errors are `rag.bad_ingest_option`, naming the setting and its flag.
 */
export function ingestSettings(options: IngestSettings): IngestSettings {
  const given: Record<string, unknown> = {};
  for (const k of SETTING_KEYS) if (options[k] !== undefined) given[k] = options[k];
  const parsed = IngestSettingsSchema.safeParse(given);
  if (!parsed.success) throw badOption(parsed.error, given);
  return parsed.data;
}

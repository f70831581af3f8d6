// Resource limits on untrusted input (documents, datasets, model files, hub servers), with safe
// defaults; `limits` in infuse.config.json changes them. Each error that a limit raises names the
// limit's key, so a user who trusts their input knows what to raise.
import { z } from "zod";

const MiB = 1024 * 1024;

export const LimitsSchema = z.strictObject({
  /** Largest document file ingest reads (bytes). */
  maxFileBytes: z.int().positive().optional(),
  /** Largest size a compressed document (DOCX, a zip) may expand to (bytes), checked before it is expanded. */
  maxDecompressedBytes: z.int().positive().optional(),
  /** Longest dataset record or single document line (characters). */
  maxRecordChars: z.int().positive().optional(),
  /** A download or hub request with no byte for this long fails (milliseconds). */
  downloadTimeoutMs: z.int().positive().optional(),
  /** Largest file a download may write (bytes), announced or not. */
  maxDownloadBytes: z.int().positive().optional(),
  /** Largest hub listing (`/api/models/...`) read (bytes). */
  maxListingBytes: z.int().positive().optional(),
  /** Longest text a chat template may render (characters). */
  templateMaxChars: z.int().positive().optional(),
  /** Largest JSON request body `infuse serve` reads (bytes). */
  maxRequestBytes: z.int().positive().optional(),
  /** Largest multipart upload to `infuse serve`, all files together (bytes); each file also obeys maxFileBytes. */
  maxUploadBytes: z.int().positive().optional(),
  /** Most generations infuse's engine decodes together per loaded model (one KV cache each); more wait. */
  maxBatch: z.int().positive().optional(),
  /** Prompt tokens a request joining a running batch evaluates between two decode steps of the others. */
  prefillChunk: z.int().positive().optional(),
});

export type LimitsConfig = z.infer<typeof LimitsSchema>;
/** Every limit, set (zod's optional fields are `number | undefined`, so Required<> alone is not enough). */
export type Limits = { [K in keyof LimitsConfig]-?: NonNullable<LimitsConfig[K]> };

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFileBytes: 1024 * MiB,
  maxDecompressedBytes: 64 * MiB, // mammoth holds a document tree several times the size of its XML
  maxRecordChars: 4 * MiB,
  downloadTimeoutMs: 60_000,
  maxDownloadBytes: 256 * 1024 * MiB, // above the largest GGUF a CPU can run
  maxListingBytes: 32 * MiB,
  templateMaxChars: 4 * MiB,
  maxRequestBytes: 4 * MiB,
  maxUploadBytes: 256 * MiB,
  maxBatch: 8, // models/batch-generate.ts DEFAULT_MAX_BATCH
  prefillChunk: 256, // models/batch-generate.ts DEFAULT_PREFILL_CHUNK
});

/** The limits in force: the defaults with the config's `limits` section over them. */
export function resolveLimits(section: LimitsConfig | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(section ?? {}).filter(([, v]) => v !== undefined)) };
}

/** The limits a config carries, else the defaults (configs built by hand in tests and libraries). */
export function limitsOf(config: { limits?: Limits } | undefined): Limits {
  return config?.limits ?? DEFAULT_LIMITS;
}

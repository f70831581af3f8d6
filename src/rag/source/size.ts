// The size check every unit passes before it is read: a file larger than `limits.maxFileBytes` is
// refused by name (ingest lists it as failed and goes on), never loaded into memory.
import { InfuseError } from "../../core/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../core/limits.js";

/** Throws `rag.file_too_large` when `bytes` exceeds `limits.maxFileBytes`. */
export function checkUnitSize(
  bytes: number,
  source: string,
  limits: Pick<Limits, "maxFileBytes"> = DEFAULT_LIMITS,
): void {
  const max = limits.maxFileBytes;
  if (bytes > max) {
    throw new InfuseError(
      "rag.file_too_large",
      `${source}: ${bytes} bytes is larger than limits.maxFileBytes (${max})`,
      {
        kind: "input",
        hint: "raise limits.maxFileBytes in infuse.config.json to read it, or exclude the file",
        details: { limit: "limits.maxFileBytes", bytes, max },
      },
    );
  }
}

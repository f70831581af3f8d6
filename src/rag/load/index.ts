// Loading: a loader registry by media type (registry.ts), folder walks (walk.ts), and the
// one-file helpers. One file failing never stops a folder: ingest reports it instead.
import { open } from "node:fs/promises";
import { InfuseError, isInfuseError } from "../../core/errors.js";
import type { Limits } from "../../core/limits.js";
import { checkUnitSize } from "../source/size.js";
import { collect, loaderFor, loadItems, mediaTypeForName, registeredExtensions } from "./registry.js";
import type { LoadedFile, TabularOptions } from "./types.js";

export type { LoadContext, LoadedFile, Loader, LoadItem, LoadWarning, SkipCode, TabularOptions } from "./types.js";
export { IMAGE_MEDIA, imageFormat, loadImage, type ImageFormat } from "./image.js";
export {
  defaultOcr,
  OCR_DEFAULTS,
  OCR_MODES,
  OcrEngine,
  type OcrMode,
  type OcrPage,
  type OcrSettings,
  type OcrUnavailable,
} from "./ocr/index.js";
export {
  MEDIA,
  registerLoader,
  loaderFor,
  loadItems,
  mediaTypeForName,
  parseMediaType,
  registeredExtensions,
  sniffMediaType,
  type LoaderChoice,
} from "./registry.js";
export { decodeText } from "./text.js";
export {
  DEFAULT_EXCLUDE,
  defaultInclude,
  findFiles,
  walkFiles,
  walkRoot,
  type FoundFile,
  type WalkOptions,
} from "./walk.js";

/** Loads one file by its extension (sniffing the bytes too); `source` is the name chunks cite. */
export async function loadFile(
  file: string,
  source: string,
  options: TabularOptions = {},
  limits?: Limits,
): Promise<LoadedFile> {
  checkSupported(file, source);
  return loadBytes(await readBytes(file, source, limits), mediaTypeForName(file), source, options, limits);
}

function checkSupported(file: string, source: string): void {
  if (mediaTypeForName(file) === "application/octet-stream") {
    const ext = file.includes(".") ? file.slice(file.lastIndexOf(".")) : "(none)";
    throw new InfuseError("rag.unsupported_format", `${source}: unsupported file type "${ext}"`, {
      kind: "input",
      hint: `supported: ${registeredExtensions().join(", ")}`,
    });
  }
}

/** Loads contents already read, by media type (an extension without dot is taken as a file name). */
export async function loadBytes(
  bytes: Uint8Array,
  mediaType: string,
  source: string,
  options: TabularOptions = {},
  limits?: Limits,
): Promise<LoadedFile> {
  const type = mediaType.includes("/") ? mediaType : mediaTypeForName(`x.${mediaType}`);
  const choice = loaderFor(type, source, bytes);
  if (!choice.loader) {
    throw new InfuseError("rag.unsupported_format", `${source}: ${choice.reason}`, {
      kind: "input",
      hint: `supported: ${registeredExtensions().join(", ")}`,
    });
  }
  const context = {
    source,
    tabular: options,
    ...(choice.charset ? { charset: choice.charset } : {}),
    ...(limits ? { limits } : {}),
  };
  return collect(loadItems(choice.loader, bytes, context));
}

/**
 * A file's bytes; an unreadable file is `rag.file_unreadable` naming its source (not_found or io),
 * one larger than `limits.maxFileBytes` is `rag.file_too_large`, refused before it is read.
 */
export async function readBytes(file: string, source: string, limits?: Limits): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    throw unreadable(e, source);
  }
  try {
    checkUnitSize((await handle.stat()).size, source, limits);
    return await handle.readFile();
  } catch (e) {
    throw isInfuseError(e) ? e : unreadable(e, source);
  } finally {
    await handle.close();
  }
}

function unreadable(e: unknown, source: string): InfuseError {
  const code = (e as NodeJS.ErrnoException).code;
  return new InfuseError("rag.file_unreadable", `${source}: cannot read (${code ?? (e as Error).message})`, {
    kind: code === "ENOENT" ? "not_found" : "io",
    cause: e,
  });
}

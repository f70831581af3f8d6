// Splitter settings (stored with a collection) and the one entry point that turns loaded
// documents into chunks. Token sizing needs the embedder's tokenizer (a TokenCounter).
import { InfuseError } from "../../core/errors.js";
import type { Chunk, LoadedDocument, TokenCounter } from "../types.js";
import { makeChunk, type Span } from "./chunk.js";
import { markdownSections } from "./markdown.js";
import { characterLength, recursiveSpans, type LengthFunction } from "./recursive.js";
import { sentenceChunkSpans } from "./sentence.js";

export type SplitterKind = "markdown" | "recursive" | "sentence" | "token" | "none";
export const SPLITTER_KINDS: SplitterKind[] = ["markdown", "recursive", "sentence", "token", "none"];

export interface SplitterSettings {
  kind: SplitterKind;
  /** Largest chunk: characters, or tokens for `token`. */
  chunkSize: number;
  /** How much of the end of a chunk the next one repeats (same unit as chunkSize). */
  overlap: number;
}

export const DEFAULT_SPLITTER: SplitterSettings = { kind: "markdown", chunkSize: 1000, overlap: 150 };
const TOKEN_DEFAULTS = { chunkSize: 256, overlap: 32 };

/** Fills in defaults and checks sizes; errors name the bad field. */
export function splitterSettings(partial: Partial<SplitterSettings> = {}): SplitterSettings {
  const kind = partial.kind ?? DEFAULT_SPLITTER.kind;
  if (!SPLITTER_KINDS.includes(kind)) {
    throw new InfuseError("rag.splitter_kind", `unknown splitter "${String(kind)}"`, {
      kind: "usage",
      hint: `use one of: ${SPLITTER_KINDS.join(", ")}`,
    });
  }
  const defaults = kind === "token" ? TOKEN_DEFAULTS : DEFAULT_SPLITTER;
  const chunkSize = partial.chunkSize ?? defaults.chunkSize;
  const overlap = partial.overlap ?? Math.min(defaults.overlap, Math.floor(chunkSize / 4));
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new InfuseError("rag.chunk_size", `chunk size must be a positive integer, got ${chunkSize}`, {
      kind: "usage",
    });
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= chunkSize) {
    throw new InfuseError(
      "rag.chunk_overlap",
      `chunk overlap must be an integer in 0..${chunkSize - 1}, got ${overlap}`,
      {
        kind: "usage",
        hint: "make the overlap smaller than the chunk size",
      },
    );
  }
  return { kind, chunkSize, overlap };
}

export class Splitter {
  readonly settings: SplitterSettings;
  readonly #length: LengthFunction;

  /** `tokenizer` is required for the `token` kind (the embedder's tokenizer). */
  constructor(settings: Partial<SplitterSettings> = {}, tokenizer?: TokenCounter) {
    this.settings = splitterSettings(settings);
    if (this.settings.kind === "token" && !tokenizer) {
      throw new InfuseError(
        "rag.splitter_no_tokenizer",
        "token splitting needs the embedder's tokenizer, and this embedder has none",
        {
          kind: "usage",
          hint: "use --splitter markdown or recursive (character sizes) with this embedder",
        },
      );
    }
    this.#length = this.settings.kind === "token" && tokenizer ? (t) => tokenizer.countTokens(t) : characterLength;
  }

  split(doc: LoadedDocument): Chunk[] {
    const { kind, chunkSize, overlap } = this.settings;
    const all: Span = { start: 0, end: doc.text.length };
    const options = { chunkSize, overlap, length: this.#length };
    // chunks are added one by one: a long document has more of them than a spread (push(...)) takes
    const chunks: Chunk[] = [];
    const add = (span: Span, headingPath?: string[]) => {
      const chunk = makeChunk(doc, span, headingPath);
      if (chunk) chunks.push(chunk);
    };
    if (kind === "none") add(all);
    else if (kind === "sentence") for (const s of sentenceChunkSpans(doc.text, all, options)) add(s);
    else if (kind === "markdown") {
      for (const section of markdownSections(doc.text)) {
        for (const s of recursiveSpans(doc.text, section, options)) add(s, section.headingPath);
      }
    } else for (const s of recursiveSpans(doc.text, all, options)) add(s);
    return chunks;
  }

  splitAll(docs: LoadedDocument[]): Chunk[] {
    return docs.flatMap((d) => this.split(d));
  }
}

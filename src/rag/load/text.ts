// Text decoding and the loaders of text formats: plain text, Markdown and HTML (main content
// as Markdown). Text is decoded strictly: bytes that are not valid in the charset are an error.
import { TextDecoder } from "node:util";
import { InfuseError } from "../../core/errors.js";
import { htmlToMarkdown } from "./html.js";
import type { LoadContext, LoadedFile } from "./types.js";

/** Decodes bytes in `charset` (default UTF-8; a media type's charset parameter), newlines as \n. */
export function decodeText(bytes: Uint8Array, source: string, charset = "utf-8"): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch (e) {
    throw new InfuseError("rag.unknown_charset", `${source}: unknown charset "${charset}"`, {
      kind: "input",
      hint: "send the text as UTF-8, or name a charset Node knows (utf-8, iso-8859-1, windows-1252, …)",
      cause: e,
    });
  }
  try {
    const text = decoder.decode(bytes);
    // most files have no \r: no second copy of the text for them
    return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
  } catch (e) {
    const utf8 = decoder.encoding === "utf-8";
    throw new InfuseError("rag.not_utf8", `${source}: not ${utf8 ? "UTF-8" : decoder.encoding} text`, {
      kind: "input",
      hint: utf8 ? "convert the file to UTF-8" : `the bytes are not valid ${decoder.encoding}`,
      cause: e,
    });
  }
}

export function textLoader(format: "text" | "markdown") {
  return async (bytes: Uint8Array, { source, charset }: LoadContext): Promise<LoadedFile> => {
    const text = decodeText(bytes, source, charset);
    if (text.trim().length === 0)
      return { documents: [], warnings: [{ source, reason: "empty file (only blank space)", code: "empty" }] };
    return { documents: [{ source, text, metadata: { format } }], warnings: [] };
  };
}

export async function loadHtml(bytes: Uint8Array, { source, charset }: LoadContext): Promise<LoadedFile> {
  const { markdown, title } = htmlToMarkdown(decodeText(bytes, source, charset));
  if (markdown.length === 0)
    return { documents: [], warnings: [{ source, reason: "no main content found", code: "no_text" }] };
  return {
    documents: [{ source, text: markdown, metadata: title ? { format: "html", title } : { format: "html" } }],
    warnings: [],
  };
}

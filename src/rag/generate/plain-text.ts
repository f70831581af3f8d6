// A chunk's text as plain paragraphs for quoting: Markdown marks (emphasis, code, links, list
// markers, block quotes) taken off, headings dropped (`#` lines and the bare heading lines PDF
// text keeps), a table row made one "header: cell; …" line. Wrapped lines are joined; what is
// not Markdown is left as it is.

const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
const ATX_HEADING = /^\s{0,3}#{1,6}(\s|$)/;
const SETEXT_RULE = /^\s{0,3}(=+|-+)\s*$/;
const LIST_MARK = /^\s*(?:[-*+•]|\d{1,3}[.)])\s+/;
const ENDS_SENTENCE = /[.!?:;,…"'”’)\]]$/;

/** Inline Markdown off: images and links keep their text, emphasis and code marks go. */
export function stripInlineMarkdown(line: string): string {
  return line
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
    .replace(/(^|[^\p{L}\p{N}*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\p{L}\p{N}])/gu, "$1$2")
    .replace(/(^|[^\p{L}\p{N}_])_(?=\S)([^_]+?)(?<=\S)_(?![\p{L}\p{N}])/gu, "$1$2")
    .replace(/`+([^`]+)`+/g, "$1");
}

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\||\|$/g, "")
    .split("|")
    .map((c) => stripInlineMarkdown(c.trim()));
}

/**
 * A bare heading line, as PDF and plain text keep them: short, no closing punctuation, starting a
 * block (the line before ended a sentence, or there is none) and followed by a line that starts a
 * sentence (a capital letter). "It opens at" + "08:00 on…" is a wrapped sentence, not a heading.
 */
function isBareHeading(line: string, previous: string | undefined, next: string | undefined): boolean {
  const text = line.trim();
  if (text.length === 0 || ENDS_SENTENCE.test(text) || text.split(/\s+/).length > 12) return false;
  if (!/^(\d{1,3}(\.\d{1,3})*\.?\s+)?\p{Lu}/u.test(text)) return false;
  if (previous !== undefined && previous.trim() !== "" && !ENDS_SENTENCE.test(previous.trim())) return false;
  return next !== undefined && /^\s*\p{Lu}/u.test(next);
}

/** The paragraphs of `text` as plain prose, one per paragraph, list item or table row. */
export function plainParagraphs(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let current: string[] = [];
  let header: string[] | undefined;
  const flush = () => {
    if (current.length > 0) out.push(current.join(" ").replace(/\s+/g, " ").trim());
    current = [];
  };
  lines.forEach((raw, i) => {
    const line = raw.replace(/^\s*>\s?/, "");
    const next = lines[i + 1];
    if (line.trim() === "") return flush();
    if (ATX_HEADING.test(line) || (next !== undefined && SETEXT_RULE.test(next) && line.trim() !== "")) {
      header = undefined;
      return flush();
    }
    if (SETEXT_RULE.test(line) && i > 0) return flush();
    if (TABLE_RULE.test(line) && TABLE_ROW.test(lines[i - 1] ?? "")) return;
    if (TABLE_ROW.test(line)) {
      flush();
      const row = cells(line);
      // the first row of a table, above its rule, names the columns
      if (next !== undefined && TABLE_RULE.test(next)) return void (header = row);
      const named = row.map((c, j) => (header?.[j] ? `${header[j]}: ${c}` : c)).filter((c) => c.trim() !== "");
      if (named.length > 0) out.push(named.join("; "));
      return;
    }
    header = undefined;
    if (isBareHeading(line, lines[i - 1], next)) return flush();
    if (LIST_MARK.test(line)) flush();
    current.push(stripInlineMarkdown(line.replace(LIST_MARK, "").trim()));
  });
  flush();
  return out.filter((p) => p.length > 0);
}

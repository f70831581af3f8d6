// Heading-aware splitting for Markdown (and HTML/DOCX, which load as Markdown): sections at
// ATX headings (`#`..`######`, not inside code fences) carry their heading path; long sections
// are split recursively. Setext headings (underlines) are not recognised.
import type { Span } from "./chunk.js";

export interface Section extends Span {
  headingPath: string[];
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/;
const FENCE = /^\s{0,3}(```|~~~)/;
/** Longer lines are neither headings nor fences (and are never given to the regexes). */
const MAX_HEADING_LINE = 4096;

/** The sections of a Markdown text, in order, covering it completely. */
export function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let sectionStart = 0;
  let currentPath: string[] = [];
  let inFence = false;
  // lines are found one at a time (no array of every line), and only short lines are matched
  for (let lineStart = 0; lineStart <= text.length;) {
    const newline = text.indexOf("\n", lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    const start = lineStart;
    lineStart = lineEnd + 1;
    if (lineEnd - start > MAX_HEADING_LINE) continue;
    const line = text.slice(start, lineEnd);
    if (FENCE.test(line)) inFence = !inFence;
    if (inFence) continue;
    const m = HEADING.exec(line.trimEnd());
    if (!m) continue;
    // a section that is only its heading line joins the next one (no heading-only chunks)
    const body = text.slice(sectionStart, start).replace(/^#{1,6}[ \t].*$/m, "");
    if (body.trim().length > 0) {
      sections.push({ start: sectionStart, end: start, headingPath: currentPath });
      sectionStart = start;
    }
    const level = m[1]!.length;
    while (path.length > 0 && path[path.length - 1]!.level >= level) path.pop();
    path.push({ level, title: m[2]!.trim() });
    currentPath = path.map((p) => p.title);
  }
  if (text.length > sectionStart) sections.push({ start: sectionStart, end: text.length, headingPath: currentPath });
  return sections;
}

// Tesseract's TSV output (level, page_num, block_num, par_num, line_num, word_num, left, top,
// width, height, conf, text) turned into text per page with a confidence: words joined by
// spaces, lines by newlines, paragraphs by a blank line. Layout boxes are not kept.

export interface OcrPage {
  /** 1-based page of the image (a multi-page TIFF has several). */
  page: number;
  text: string;
  /** Mean word confidence, 0–100, weighted by word length; 0 when no word was read. */
  confidence: number;
  words: number;
}

const WORD_LEVEL = 5;

/** Pages in order; a page with no words has empty text. */
export function parseTsv(tsv: string): OcrPage[] {
  const pages = new Map<
    number,
    { lines: string[][]; paragraphs: number[]; weighted: number; chars: number; words: number }
  >();
  let lastLine = "";
  let lastPar = "";
  for (const row of tsv.split("\n")) {
    const cols = row.split("\t");
    if (cols.length < 12 || Number(cols[0]) !== WORD_LEVEL) continue;
    const [, pageNum, block, par, line] = cols;
    const text = cols.slice(11).join("\t").trim();
    const conf = Number(cols[10]);
    if (text.length === 0 || !(conf >= 0)) continue;
    const n = Number(pageNum);
    let page = pages.get(n);
    if (!page) {
      page = { lines: [], paragraphs: [], weighted: 0, chars: 0, words: 0 };
      pages.set(n, page);
      lastLine = lastPar = "";
    }
    const parKey = `${block}.${par}`;
    const lineKey = `${parKey}.${line}`;
    if (parKey !== lastPar && page.lines.length > 0) page.paragraphs.push(page.lines.length);
    if (lineKey !== lastLine) page.lines.push([]);
    page.lines[page.lines.length - 1]!.push(text);
    lastLine = lineKey;
    lastPar = parKey;
    page.weighted += conf * text.length;
    page.chars += text.length;
    page.words++;
  }
  return [...pages.entries()]
    .sort(([a], [b]) => a - b)
    .map(([n, p]) => {
      const breaks = new Set(p.paragraphs);
      const text = p.lines.map((words, i) => (breaks.has(i) ? "\n" : "") + words.join(" ")).join("\n");
      const confidence = p.chars > 0 ? Math.round((p.weighted / p.chars) * 10) / 10 : 0;
      return { page: n, text, confidence, words: p.words };
    });
}

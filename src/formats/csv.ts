// The project's one CSV reader: RFC 4180 (quoted fields, doubled quotes, newlines inside quotes,
// CRLF or LF, a leading BOM dropped), with the line each row starts on for error messages.
// Leaves out dialect sniffing; callers turn rows into their own records and errors.

export interface CsvRow {
  cells: string[];
  /** 1-based line of the file where the row starts. */
  line: number;
}

export interface CsvTable {
  /** The first row (empty when the text has no row). */
  header: string[];
  rows: CsvRow[];
  /** Set when a quoted field is never closed: the line it opened on (it swallowed the rest of the file). */
  unclosedQuoteLine?: number;
}

/** Parses CSV text (or TSV with separator "\t"); blank lines are skipped. */
export function parseCsv(text: string, options: { separator?: string } = {}): CsvTable {
  const sep = options.separator ?? ",";
  const rows: CsvRow[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let quoteLine = 0;
  let line = 1;
  let rowLine = 1;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endRow = () => {
    cells.push(cell);
    if (cells.length > 1 || cells[0] !== "") rows.push({ cells, line: rowLine });
    cells = [];
    cell = "";
  };
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === "\n") line++;
        cell += ch;
      }
    } else if (ch === '"' && cell === "") {
      quoted = true;
      quoteLine = line;
    } else if (ch === sep) {
      cells.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += ch;
  }
  if (cell !== "" || cells.length > 0) endRow();
  const header = rows.shift()?.cells ?? [];
  return { header, rows, ...(quoted ? { unclosedQuoteLine: quoteLine } : {}) };
}

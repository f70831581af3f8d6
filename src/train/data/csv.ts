// RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes) to header-keyed rows, each with
// the line it starts on for error messages. Leaves out dialect sniffing.
import { InfuseError } from "../../core/errors.js";

/** A data row keyed by the header, or the error of a row whose width differs from the header's. */
export type CsvRow = { row: Record<string, string>; where: string } | { error: InfuseError; where: string };

/** Rows in file order; an unclosed quote (which swallows the rest of the file) throws. */
export function parseCsvRecords(text: string, file: string, sep = ","): CsvRow[] {
  const rows: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
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
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === sep) {
      cells.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      cells.push(cell);
      if (cells.length > 1 || cells[0] !== "") rows.push({ cells, line: rowLine });
      cells = [];
      cell = "";
      line++;
      rowLine = line;
    } else cell += ch;
  }
  if (quoted) {
    throw new InfuseError("train.bad_record", `${file}:${rowLine}: a quoted field is never closed`, {
      kind: "input",
      hint: 'close the field with " (a quote inside a field is written "")',
      details: { record: `${file}:${rowLine}` },
    });
  }
  if (cell !== "" || cells.length > 0) rows.push({ cells: [...cells, cell], line: rowLine });
  const header = rows.shift()?.cells ?? [];
  return rows.map(({ cells: c, line: l }) => {
    const where = `${file}:${l}`;
    if (c.length !== header.length) {
      const error = new InfuseError(
        "train.bad_record",
        `${where}: ${c.length} fields, the header has ${header.length}`,
        {
          kind: "input",
          hint: "quote fields that contain the separator or a newline (or skip such rows with --skip-bad-records)",
          details: { record: where },
        },
      );
      return { error, where };
    }
    return { row: Object.fromEntries(header.map((h, i) => [h, c[i]!])), where };
  });
}

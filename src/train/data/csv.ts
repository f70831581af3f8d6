// CSV training records: header-keyed rows, each with the line it starts on for error messages.
// The parsing is formats/csv (RFC 4180), the project's one CSV reader.
import { InfuseError } from "../../core/errors.js";
import { parseCsv } from "../../formats/csv.js";

/** A data row keyed by the header, or the error of a row whose width differs from the header's. */
export type CsvRow = { row: Record<string, string>; where: string } | { error: InfuseError; where: string };

/** Rows in file order; an unclosed quote (which swallows the rest of the file) throws. */
export function parseCsvRecords(text: string, file: string, sep = ","): CsvRow[] {
  const table = parseCsv(text, { separator: sep });
  if (table.unclosedQuoteLine !== undefined) {
    const where = `${file}:${table.unclosedQuoteLine}`;
    throw new InfuseError("train.bad_record", `${where}: a quoted field is never closed`, {
      kind: "input",
      hint: 'close the field with " (a quote inside a field is written "")',
      details: { record: where },
    });
  }
  const header = table.header;
  return table.rows.map(({ cells, line }) => {
    const where = `${file}:${line}`;
    if (cells.length !== header.length) {
      const error = new InfuseError(
        "train.bad_record",
        `${where}: ${cells.length} fields, the header has ${header.length}`,
        {
          kind: "input",
          hint: "quote fields that contain the separator or a newline (or skip such rows with --skip-bad-records)",
          details: { record: where },
        },
      );
      return { error, where };
    }
    return { row: Object.fromEntries(header.map((h, i) => [h, cells[i]!])), where };
  });
}

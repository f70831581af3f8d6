// Which field of an instruction-style record (CSV column or JSON key) holds the instruction, the
// extra context and the response: the user's column flags, else a field named like the role
// (question/context/answer, prompt/response …, case-insensitive), reported so the user sees the guess.
// Leaves out guessing from the values.
import type { ColumnMap } from "./records.js";

type Role = "instruction" | "input" | "output";

/** Field names each role is recognised by, most likely first (compared case-insensitively). */
export const COLUMN_ALIASES: Record<Role, readonly string[]> = {
  instruction: ["instruction", "question", "prompt", "query", "user"],
  input: ["input", "context", "evidence_text", "evidence", "passage", "document"],
  output: ["output", "answer", "response", "completion", "assistant"],
};

/** The roles whose column was guessed, and the column each got. */
export type GuessedColumns = Partial<Record<Role, string>>;

/**
 * `given` completed from `fields`: a role the user did not name, whose default field (its own name)
 * is absent, gets the first field named like one of its aliases that no other role took.
 */
export function mapColumns(fields: string[], given: ColumnMap): { columns: ColumnMap; guessed: GuessedColumns } {
  const columns: ColumnMap = { ...given };
  const guessed: GuessedColumns = {};
  const taken = new Set(Object.values(given).filter((v): v is string => v !== undefined));
  for (const role of ["instruction", "output", "input"] as const) {
    if (given[role] !== undefined || fields.includes(role)) continue;
    for (const alias of COLUMN_ALIASES[role]) {
      const hit = fields.find((f) => f.trim().toLowerCase() === alias && !taken.has(f));
      if (hit === undefined) continue;
      columns[role] = hit;
      guessed[role] = hit;
      taken.add(hit);
      break;
    }
  }
  return { columns, guessed };
}

/** `file: columns question → instruction, evidence_text → input, answer → output`. */
export function describeGuess(file: string, guessed: GuessedColumns): string | null {
  const parts = (["instruction", "input", "output"] as const).flatMap((r) =>
    guessed[r] !== undefined ? [`${guessed[r]} → ${r}`] : [],
  );
  if (parts.length === 0) return null;
  return `${file}: columns ${parts.join(", ")} (name them with --instruction-column, --input-column, --output-column)`;
}

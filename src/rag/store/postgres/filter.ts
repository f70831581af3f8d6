// Metadata filters as SQL with parameters (values never enter the SQL text): `source` (a name,
// a glob or a folder ending in `/`, as filter.ts reads it) and `page` filter their columns; other keys match `key=value` entries of the meta_kv array (values
// compared as strings), as the LanceDB store does.
import { InfuseError } from "../../../core/errors.js";
import type { MetadataFilter } from "../../types.js";
import { sourceLikePattern } from "../filter.js";

/** The filter's WHERE clauses on `alias`, its values appended to `params` ($n placeholders). */
export function filterClauses(filter: MetadataFilter | undefined, alias: string, params: unknown[]): string[] {
  if (!filter) return [];
  const clauses: string[] = [];
  const param = (v: unknown) => `$${params.push(v)}`;
  for (const [key, raw] of Object.entries(filter)) {
    const values = Array.isArray(raw) ? raw : [raw];
    if (values.length === 0) {
      throw new InfuseError("rag.filter_empty", `filter "${key}" has no values`, { kind: "usage" });
    }
    if (key === "page") {
      const pages = values.map(Number);
      if (pages.some((p) => !Number.isInteger(p))) {
        throw new InfuseError("rag.filter_page", `filter "page" must be integers, got ${values.join(", ")}`, {
          kind: "usage",
        });
      }
      clauses.push(`${alias}.page = ANY(${param(pages)}::integer[])`);
    } else if (key === "source") clauses.push(sourceClause(values.map(String), alias, param));
    else clauses.push(`${alias}.meta_kv && ${param(values.map((v) => `${key}=${String(v)}`))}::text[]`);
  }
  return clauses;
}

/** Exact names in one ANY list, each glob or folder a LIKE (its own % and _ escaped): OR-ed. */
function sourceClause(values: string[], alias: string, param: (v: unknown) => string): string {
  const exact = values.filter((v) => sourceLikePattern(v) === undefined);
  const parts = values.flatMap((v) => {
    const like = sourceLikePattern(v);
    return like === undefined ? [] : [`${alias}.source LIKE ${param(like)} ESCAPE '\\'`];
  });
  if (exact.length > 0) parts.unshift(`${alias}.source = ANY(${param(exact)}::text[])`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(" OR ")})`;
}

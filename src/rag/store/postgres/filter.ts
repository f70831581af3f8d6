// Metadata filters as SQL with parameters (values never enter the SQL text): the terms
// `filterTerms` checks for every store (`source` a name, a glob or a folder ending in `/`; `page`;
// other keys `key=value` entries of the meta_kv array), rendered in Postgres' dialect.
import type { MetadataFilter } from "../../types.js";
import { filterTerms } from "../filter.js";

/** The filter's WHERE clauses on `alias`, its values appended to `params` ($n placeholders). */
export function filterClauses(filter: MetadataFilter | undefined, alias: string, params: unknown[]): string[] {
  const param = (v: unknown) => `$${params.push(v)}`;
  return filterTerms(filter).map((t) => {
    if (t.column === "page") return `${alias}.page = ANY(${param(t.pages)}::integer[])`;
    if (t.column === "meta_kv") return `${alias}.meta_kv && ${param(t.tokens)}::text[]`;
    const parts = t.patterns.map((like) => `${alias}.source LIKE ${param(like)} ESCAPE '\\'`);
    if (t.exact.length > 0) parts.unshift(`${alias}.source = ANY(${param(t.exact)}::text[])`);
    return parts.length === 1 ? parts[0]! : `(${parts.join(" OR ")})`;
  });
}

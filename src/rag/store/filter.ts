// Metadata filters to LanceDB SQL predicates. `source` and `page` filter their columns; other
// keys match `key=value` entries of the meta_kv list column (values compared as strings).
// A `source` value may be a pattern: a glob (`*` any characters, `/` included; `?` one
// character), or a folder written with a trailing `/` (everything under it): `source=notes/`
// is `source=notes/*`. Other keys match exactly.
import { InfuseError } from "../../core/errors.js";
import type { MetadataFilter, MetadataValue } from "../types.js";

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The `key=value` tokens a chunk's metadata is stored (and filtered) as. */
export function metadataTokens(metadata: Record<string, MetadataValue>): string[] {
  return Object.entries(metadata).map(([k, v]) => `${k}=${String(v)}`);
}

/** One AND-ed term of a filter, checked: what every store's SQL dialect renders. */
export type FilterTerm =
  | { column: "page"; pages: number[] }
  /** Exact names (any of), or LIKE patterns (a backslash escapes % and _): OR-ed. */
  | { column: "source"; exact: string[]; patterns: string[] }
  /** `key=value` tokens of the meta_kv list, any of. */
  | { column: "meta_kv"; tokens: string[] };

/** A filter's terms, checked once for every store (`rag.filter_empty`, `rag.filter_page`). */
export function filterTerms(filter: MetadataFilter | undefined): FilterTerm[] {
  if (!filter) return [];
  return Object.entries(filter).map(([key, raw]): FilterTerm => {
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
      return { column: "page", pages };
    }
    if (key === "source") {
      const names = values.map(String);
      return {
        column: "source",
        exact: names.filter((v) => sourceLikePattern(v) === undefined),
        patterns: names.flatMap((v) => sourceLikePattern(v) ?? []),
      };
    }
    return { column: "meta_kv", tokens: values.map((v) => `${key}=${String(v)}`) };
  });
}

export function filterToSql(filter: MetadataFilter | undefined): string | undefined {
  const clauses = filterTerms(filter).map((t) => {
    if (t.column === "page") return `page IN (${t.pages.join(", ")})`;
    if (t.column === "meta_kv") return `array_has_any(meta_kv, [${t.tokens.map(sqlString).join(", ")}])`;
    const parts = t.patterns.map((like) => `source LIKE ${sqlString(like)} ESCAPE '\\'`);
    if (t.exact.length > 0) parts.unshift(`source IN (${t.exact.map(sqlString).join(", ")})`);
    return parts.length === 1 ? parts[0]! : `(${parts.join(" OR ")})`;
  });
  return clauses.length > 0 ? clauses.join(" AND ") : undefined;
}

/** The SQL LIKE pattern of a source pattern, or undefined for a plain name (matched exactly). */
export function sourceLikePattern(value: string): string | undefined {
  const glob = value.endsWith("/") ? `${value}*` : value;
  if (!/[*?]/.test(glob)) return undefined;
  return glob
    .replace(/[\\%_]/g, (c) => `\\${c}`)
    .replace(/\*/g, "%")
    .replace(/\?/g, "_");
}

/** Does `source` match a `source` filter value (a name, a glob, or a folder ending in `/`)? */
export function sourceMatches(source: string, value: string): boolean {
  const glob = value.endsWith("/") ? `${value}*` : value;
  if (!/[*?]/.test(glob)) return source === value;
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "s").test(source);
}

/** Parses CLI filters `key=value` (repeat a key for OR); numbers stay strings except for page. */
export function parseFilterArgs(args: string[]): MetadataFilter | undefined {
  if (args.length === 0) return undefined;
  const filter: Record<string, MetadataValue[]> = {};
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw new InfuseError("rag.filter_syntax", `filter "${arg}" is not key=value`, {
        kind: "usage",
        hint: "write filters like --filter source=guide.md --filter 'source=notes/*' --filter lang=en",
      });
    }
    (filter[arg.slice(0, eq)] ??= []).push(arg.slice(eq + 1));
  }
  return filter;
}

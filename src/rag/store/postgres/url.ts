// A Postgres store URL: `postgres://user:password@host:port/db?schema=name`. The password never
// leaves this module in clear: every message and describe() shows the masked form. `schema`
// (default "infuse") is infuse's own parameter, taken out before the URL reaches the pg client.
import { InfuseError } from "../../../core/errors.js";

export const DEFAULT_SCHEMA = "infuse";
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgTarget {
  /** The connection string for pg, password included (never print it). */
  connectionString: string;
  /** The URL with the password replaced by `***` (and no schema parameter): for messages. */
  masked: string;
  /** The Postgres schema that holds infuse's tables. */
  schema: string;
}

/** The URL with any password replaced by `***`; text that is no URL is masked after `:` up to `@`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, "$1***@");
  }
}

/** Masks every occurrence of the URL's password in a text (a driver message that quotes it). */
export function maskSecret(text: string, url: string): string {
  let password = "";
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return text;
  }
  return password ? text.split(password).join("***") : text;
}

export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl(url, "it is not a URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw badUrl(url, `the scheme is "${u.protocol.replace(/:$/, "")}", not postgres`);
  }
  if (!u.hostname) throw badUrl(url, "it names no host");
  const schema = u.searchParams.get("schema") ?? DEFAULT_SCHEMA;
  if (!SCHEMA.test(schema)) {
    throw badUrl(url, `schema "${schema}" is not a plain lowercase SQL name (letters, digits, _)`);
  }
  u.searchParams.delete("schema");
  const connectionString = u.toString();
  return { connectionString, masked: maskUrl(connectionString), schema };
}

// no cause: the parser's message quotes the URL, password and all
function badUrl(url: string, why: string): InfuseError {
  return new InfuseError("config.store_url", `store.url ${maskUrl(url)} is not a Postgres URL: ${why}`, {
    kind: "usage",
    hint: 'write it as postgres://USER:PASSWORD@HOST:5432/DATABASE (optionally "?schema=NAME"), in store.url or --store',
  });
}

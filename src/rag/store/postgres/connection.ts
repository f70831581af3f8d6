// One pool of connections per Postgres store provider, with errors made into InfuseErrors that
// name `store.url` (password masked): unreachable server, refused login, missing database or
// pgvector. Every connection reads and writes infuse's schema first (search_path), then public
// (where pgvector's types live).
import pg from "pg";
import { InfuseError, isInfuseError } from "../../../core/errors.js";
import { maskSecret, type PgTarget } from "./url.js";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);
const CONNECT_TIMEOUT_MS = 10_000;

export function newPool(target: PgTarget): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: 8,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // a CLI that never closes its provider still exits once its queries are done
    allowExitOnIdle: true,
    options: `-c search_path=${target.schema},public`,
  });
  // an idle connection the server drops must not crash the process; the next query reconnects
  pool.on("error", () => undefined);
  return pool;
}

/** A dedicated connection (not from the pool): a writer lock lives as long as its session. */
export async function newClient(target: PgTarget): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: target.connectionString,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    options: `-c search_path=${target.schema},public`,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw pgError(e, target, "connect to");
  }
  return client;
}

/** A driver or server error as an InfuseError naming store.url (masked); InfuseErrors pass through. */
export function pgError(e: unknown, target: PgTarget, doing: string): unknown {
  if (isInfuseError(e)) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? "";
  const message = maskSecret(String(err.message ?? e), target.connectionString);
  const where = `the Postgres server at store.url ${target.masked}`;
  if (NETWORK_CODES.has(code) || /timeout|terminated unexpectedly|Connection terminated/i.test(message)) {
    return new InfuseError("store.unreachable", `cannot ${doing} ${where}: ${message || code}`, {
      kind: "network",
      hint: "check store.url (or --store): is the server running, and is the host and port right and reachable from here?",
      details: { url: target.masked, code },
    });
  }
  if (code === "28P01" || code === "28000") {
    return new InfuseError("store.login_refused", `${where} refused the login: ${message}`, {
      kind: "network",
      hint: "check the user and password in store.url (or --store), and the server's pg_hba.conf",
      details: { url: target.masked, code },
    });
  }
  if (code === "3D000") {
    return new InfuseError("store.database_missing", `${where}: ${message}`, {
      kind: "not_found",
      hint: "create the database first (createdb NAME), or name an existing one in store.url",
      details: { url: target.masked, code },
    });
  }
  return new InfuseError("store.query_failed", `${where} failed to ${doing}: ${message}`, {
    kind: "io",
    hint: "the collection keeps its last commit; see the server's log for more",
    details: { url: target.masked, code },
  });
}

/** Runs `fn` in a transaction on `client`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const out = await fn();
    await client.query("COMMIT");
    return out;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

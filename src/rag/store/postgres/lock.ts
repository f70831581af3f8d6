// The writer lock of a Postgres collection: a session advisory lock on a dedicated connection,
// keyed by schema and collection name. It refuses a second writer at once (from any process or
// machine), and the server drops it when its connection ends, so a writer that dies leaves no
// stale lock. Commits under the lock run on its connection; a commit without one takes the same
// key as a transaction lock for its own duration.
import type pg from "pg";
import { InfuseError } from "../../../core/errors.js";
import type { WriteLock } from "../types.js";
import { newClient, pgError } from "./connection.js";
import type { PgTarget } from "./url.js";

export const lockKey = (schema: string, collection: string) => `infuse:${schema}:${collection}`;

export class PgWriteLock implements WriteLock {
  #held = true;
  constructor(
    readonly collection: string,
    readonly store: string,
    /** The session that holds the lock; commits under the lock run on it. */
    readonly client: pg.Client,
  ) {}

  get held(): boolean {
    return this.#held;
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    // ending the session releases the advisory lock with it
    await this.client.end().catch(() => undefined);
  }
}

export async function acquirePgLock(target: PgTarget, collection: string, store: string): Promise<PgWriteLock> {
  const client = await newClient(target);
  let got = false;
  try {
    const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [
      lockKey(target.schema, collection),
    ]);
    got = r.rows[0]?.ok === true;
  } catch (e) {
    await client.end().catch(() => undefined);
    throw pgError(e, target, `lock collection "${collection}" on`);
  }
  if (!got) {
    await client.end().catch(() => undefined);
    throw busyError(collection, store);
  }
  return new PgWriteLock(collection, store, client);
}

export function busyError(collection: string, store: string): InfuseError {
  return new InfuseError("rag.collection_busy", `collection "${collection}" is being written by another writer`, {
    kind: "io",
    hint: `wait for that writer to finish, then run again (the lock is held by a live connection to ${store}; it ends with that connection)`,
    details: { collection },
  });
}

// Versioned schema migrations: infuse's schema holds a `migrations` table with the versions
// applied; each process applies the missing ones at first use, under one advisory lock so
// several processes starting at once apply each migration once. Per-collection tables are made
// by tables.ts when a collection's first commit lands.
import type pg from "pg";
import { InfuseError } from "../../../core/errors.js";
import { inTransaction } from "./connection.js";

/** Held while migrating: one key for every schema, so concurrent CREATE EXTENSIONs cannot race. */
const MIGRATE_LOCK = "infuse:migrate";

interface Migration {
  version: number;
  name: string;
  sql: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "collections and revisions",
    sql: [
      // the manifest (neutral JSON, units included) is swapped with the revision in one row
      `CREATE TABLE collections (
         id bigserial PRIMARY KEY,
         name text NOT NULL UNIQUE,
         revision integer NOT NULL,
         dimension integer NOT NULL,
         manifest jsonb NOT NULL
       )`,
      // full-text statistics of each committed revision: documents and their summed lengths
      `CREATE TABLE revisions (
         collection_id bigint NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
         revision integer NOT NULL,
         docs bigint NOT NULL,
         total_len bigint NOT NULL,
         committed_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (collection_id, revision)
       )`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Creates the schema, pgvector and the tables, and applies the migrations this one lacks. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<number> {
  return inTransaction(client, async () => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [MIGRATE_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    const ext = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
    if (ext.rowCount === 0) {
      try {
        await client.query("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public");
      } catch (e) {
        throw new InfuseError("store.pgvector_missing", `pgvector is not installed in this database`, {
          kind: "io",
          hint: "install pgvector on the server and run `CREATE EXTENSION vector;` in the database as its owner or a superuser",
          cause: e,
        });
      }
    }
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.migrations (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${schema}.migrations`);
    const at = done.rows[0]?.v ?? 0;
    if (at > SCHEMA_VERSION) {
      throw new InfuseError(
        "store.schema_newer",
        `schema "${schema}" is at migration ${at}, newer than this infuse knows (${SCHEMA_VERSION})`,
        { kind: "usage", hint: "upgrade infuse on this machine to the version the other writers run" },
      );
    }
    for (const m of MIGRATIONS.filter((m) => m.version > at)) {
      for (const sql of m.sql) await client.query(sql.replaceAll("CREATE TABLE ", `CREATE TABLE ${schema}.`));
      await client.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    return SCHEMA_VERSION;
  });
}

// The Postgres + pgvector store provider (`store: { provider: "postgres", url }`).
export { HNSW_MIN_ROWS, PostgresStoreProvider, type PostgresStoreOptions } from "./provider.js";
export { maskUrl, parsePgUrl, DEFAULT_SCHEMA } from "./url.js";
export { SCHEMA_VERSION } from "./migrations.js";

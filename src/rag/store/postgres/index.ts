// The Postgres + pgvector store provider (`store: { provider: "postgres", url }`).
export { PostgresStoreProvider } from "./provider.js";
export { maskUrl, parsePgUrl, DEFAULT_SCHEMA } from "./url.js";
export { SCHEMA_VERSION } from "./migrations.js";

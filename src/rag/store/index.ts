// The store seam's public face: the provider interface, its LanceDB and Postgres implementations and the
// config's provider factory (`storeProvider(config)`), which every command opens collections through.

export * from "./types.js";
export { checkCollectionName, checkEmbedder, summarize } from "./manifest.js";
export { filterToSql, parseFilterArgs, sourceMatches } from "./filter.js";
export { LanceCollection } from "./lancedb.js";
export { LanceDbStoreProvider, type LanceDbStoreOptions } from "./lancedb-provider.js";
export { storeProvider } from "./provider.js";
export { PostgresStoreProvider, maskUrl, type PostgresStoreOptions } from "./postgres/index.js";

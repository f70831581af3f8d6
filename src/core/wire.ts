// The one wire format: JSON with snake_case keys, as OpenAI's and Ollama's APIs use, for every
// `--json` output and HTTP body. The library speaks camelCase TypeScript; this converts at the edge.
// Keys that are data rather than field names (metadata keys, file paths of a collection's units,
// filter keys, config-file keys) are kept as written.

/** Values under these keys are the user's data: copied verbatim, keys and all. */
const DATA = new Set(["metadata", "filter", "details"]);
/** Objects under these keys are maps keyed by data (file paths): keys verbatim, values converted. */
const KEYED_MAPS = new Set(["units"]);

const CAMEL = /^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$/;

/** `tableVersion` → `table_version`; anything that is not a plain camelCase identifier is unchanged. */
export function snakeCase(key: string): string {
  return CAMEL.test(key) ? key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()) : key;
}

/** `table_version` → `tableVersion` (for reading wire bodies back into library options). */
export function camelCase(key: string): string {
  return /^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$/.test(key)
    ? key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
    : key;
}

function convert(value: unknown, rename: (key: string) => string, keepKeys: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, rename, false));
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === "function") return convert(json.call(value), rename, keepKeys);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const name = keepKeys ? key : rename(key);
    if (!keepKeys && DATA.has(name)) out[name] = JSON.parse(JSON.stringify(v)) as unknown;
    else out[name] = convert(v, rename, !keepKeys && KEYED_MAPS.has(name));
  }
  return out;
}

/** A library value as the wire sends it: snake_case keys, typed arrays as arrays, dates as ISO strings. */
export function toWire(value: unknown): unknown {
  return convert(value, snakeCase, false);
}

/** A wire body (snake_case keys) as the library takes it (camelCase keys). */
export function fromWire(value: unknown): unknown {
  return convert(value, camelCase, false);
}

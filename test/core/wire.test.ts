import { describe, expect, it } from "vitest";
import { camelCase, fromWire, snakeCase, toWire } from "../../src/core/wire.js";

describe("wire format", () => {
  it("renames camelCase identifiers only", () => {
    expect(snakeCase("tableVersion")).toBe("table_version");
    expect(snakeCase("ndcg@10")).toBe("ndcg@10");
    expect(snakeCase("notes/readMe.md")).toBe("notes/readMe.md");
    expect(snakeCase("HTTPCode")).toBe("HTTPCode");
    expect(camelCase("top_k")).toBe("topK");
    expect(camelCase("_id")).toBe("_id");
  });
  it("converts nested results and keeps data maps verbatim", () => {
    const value = {
      latencyMs: { retrieve: 1 },
      hits: [{ chunkId: "a", metadata: { pageCount: 3, nested: { keepMe: 1 } } }],
      units: { "notes/readMe": { chunkCount: 2 } },
      vector: new Float32Array([0.5]),
      skipped: undefined,
    };
    expect(toWire(value)).toEqual({
      latency_ms: { retrieve: 1 },
      hits: [{ chunk_id: "a", metadata: { pageCount: 3, nested: { keepMe: 1 } } }],
      units: { "notes/readMe": { chunk_count: 2 } },
      vector: [0.5],
    });
    expect(fromWire({ top_k: 3, filter: { doc_type: "x" } })).toEqual({ topK: 3, filter: { doc_type: "x" } });
  });
});

import { describe, expect, it } from "vitest";
import { beirCollectionName } from "../../src/eval/beir-collection.js";
import { isCollectionName } from "../../src/rag/store/manifest.js";

describe("beirCollectionName", () => {
  it("keeps the readable form when it fits", () => {
    const name = beirCollectionName("/data/scifact", "hash-1024-unigram-stop");
    expect(name).toMatch(/^beir-scifact-[0-9a-f]{8}-hash-1024-unigram-stop$/);
    expect(isCollectionName(name)).toBe(true);
  });

  it("shortens a long folder (an upload's uuid) and a long embedder id into a valid, stable name", () => {
    const dir = "/tmp/uploads/d2cc8067-cadb-471c-92c8-ca90ab663d8d-5192a2be";
    const long = "onnx:/models/some-organisation/a-very-long-sentence-embedding-model-name-v2";
    for (const embedder of ["hash-1024-unigram-stop", long]) {
      const name = beirCollectionName(dir, embedder);
      expect(isCollectionName(name), name).toBe(true);
      expect(beirCollectionName(dir, embedder)).toBe(name);
    }
    expect(beirCollectionName(dir, long)).not.toBe(beirCollectionName(dir, `${long}-2`));
    expect(beirCollectionName(dir, "hash")).not.toBe(beirCollectionName("/tmp/other", "hash"));
  });
});

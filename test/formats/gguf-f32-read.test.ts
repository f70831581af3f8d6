// An F32 tensor read from a GGUF is the buffer the read filled, not a copy of it: loading a float model
// leaves no second, garbage copy of each tensor behind (peak RSS, see bench/llama.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GgmlType, openGguf, writeGguf } from "../../src/formats/gguf/index.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-gguf-f32-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("GGUF F32 reads", () => {
  it("return the read buffer itself: the values, and one tensor's worth of new memory", async () => {
    const n = 1 << 20; // 4 MiB of f32
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const file = path.join(tmp, "f32.gguf");
    await writeGguf(file, {
      metadata: new Map(),
      tensors: [{ name: "w", dims: [1024, n / 1024], type: GgmlType.F32, data }],
    });
    const g = await openGguf(file);
    try {
      const before = process.memoryUsage().arrayBuffers;
      const w = await g.readTensorF32("w");
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(w.length).toBe(n);
      expect(w[12345]).toBe(data[12345]);
      expect(w.buffer.byteLength).toBe(4 * n);
      expect(grown).toBeLessThan(1.5 * 4 * n); // a copy would leave 2× until a collection
    } finally {
      g.close();
    }
  });
});

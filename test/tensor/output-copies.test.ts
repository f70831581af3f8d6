import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { encodeOnnxModel } from "../../src/tensor/kernels/onnx-model.js";
import { ortAvailable } from "../../src/tensor/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";

const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;

describe("onnxruntime-node's copies of outputs", () => {
  it("the binding returns a copy of an output it wrote into the caller's buffer (why output-copies.ts exists)", () => {
    expect(ortAvailable()).toBe(true);
    const require = createRequire(import.meta.url);
    const { Tensor } = require("onnxruntime-node") as {
      Tensor: new (t: string, d: Float32Array, dims: number[]) => object;
    };
    const { binding } = require("onnxruntime-node/dist/binding.js") as {
      binding: {
        InferenceSession: new () => {
          loadModel(...a: unknown[]): void;
          run(...a: unknown[]): Record<string, { data: Float32Array }>;
        };
      };
    };
    const bytes = encodeOnnxModel({
      opset: 17,
      inputs: [{ name: "A", type: "float", dims: [4] }],
      outputs: [{ name: "Y", type: "float", dims: [4] }],
      nodes: [{ op: "Relu", inputs: ["A"], outputs: ["Y"] }],
    });
    const s = new binding.InferenceSession();
    s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {});
    const y = new Float32Array(4);
    const r = s.run(
      { A: new Tensor("float32", Float32Array.of(1, -2, 3, -4), [4]) },
      { Y: new Tensor("float32", y, [4]) },
      {},
    );
    expect(Array.from(y)).toEqual([1, 0, 3, 0]); // written into ours
    y[0] = 42;
    // When this fails, a newer binding hands back our own memory: the collections are no longer needed.
    expect(r["Y"]!.data[0]).toBe(1);
  });

  it("gives back the memory of dead buffers once enough copied bytes have built up (plain node)", () => {
    // In a child process: the test runner's own activity starts collections of its own.
    // bytes freed within `ms` (polled every 5 ms; it stops early once 3 MiB are back)
    const freed = (bytes: number, ms: number): number => {
      const script = `
        const { noteOutputCopies } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, "src/tensor/kernels/output-copies.ts")).href)});
        (() => { for (let i = 0; i < 64; i++) new Float32Array(16384).fill(1); })(); // 4 MiB nothing references
        const before = process.memoryUsage().arrayBuffers;
        noteOutputCopies(${bytes});
        let after = before;
        for (const end = Date.now() + ${ms}; Date.now() < end && before - after < 3 << 20; ) {
          await new Promise((r) => setTimeout(r, 5));
          after = process.memoryUsage().arrayBuffers;
        }
        console.log(before - after);`;
      const r = spawnSync(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout.trim());
    };
    // V8 frees the dead buffers' memory on a background thread after the collection: time for a busy CI
    expect(freed(8 << 20, 5000)).toBeGreaterThanOrEqual(3 << 20);
    expect(freed(1, 20)).toBeLessThan(1 << 20); // under the bound: no collection, the garbage stays
  });
});

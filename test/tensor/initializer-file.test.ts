import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InitializerFile } from "../../src/tensor/kernels/initializer-file.js";
import { encodeOnnxModel, type OnnxFill } from "../../src/tensor/kernels/onnx-model.js";
import { ortGraphOfEncoded, ortQuantWeight, type PlaceBytes } from "../../src/tensor/kernels/ort.js";

const tmpBefore = process.env["TMPDIR"];
afterEach(() => {
  if (tmpBefore === undefined) delete process.env["TMPDIR"];
  else process.env["TMPDIR"] = tmpBefore;
});

/** Y = X · Wᵀ with W (2, 3) = 1…6 whose bytes go through `place`. */
const gemm = (place: PlaceBytes): Uint8Array =>
  encodeOnnxModel({
    opset: 17,
    inputs: [{ name: "X", type: "float", dims: [1, 3] }],
    outputs: [{ name: "Y", type: "float", dims: [1, 2] }],
    initializers: [
      { name: "W", dims: [2, 3], type: "float", data: place(new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6).buffer)) },
    ],
    nodes: [{ op: "Gemm", inputs: ["X", "W"], outputs: ["Y"], attributes: [{ name: "transB", int: 1 }] }],
  });

const runGemm = (name: string): number[] => {
  const g = ortGraphOfEncoded(gemm, name);
  const y = new Float32Array(2);
  g.run({ X: { data: Float32Array.of(1, 1, 1), dims: [1, 3] } }, { Y: { data: y, dims: [1, 2] } });
  g.dispose();
  return Array.from(y);
};

describe("initializers read from a temporary file", () => {
  it("writes arrays and fills at page-aligned offsets, and removes its folder", () => {
    const file = InitializerFile.create()!;
    const fill: OnnxFill = { byteLength: 5, write: (dst) => dst.set([9, 8, 7, 6, 5]) };
    const a = file.put(Uint8Array.of(1, 2, 3));
    const b = file.put(fill);
    file.close();
    expect(a).toEqual({ file: a.file, offset: 0, byteLength: 3 });
    expect(b).toEqual({ file: a.file, offset: 4096, byteLength: 5 });
    const bytes = readFileSync(path.join(file.folder, a.file));
    expect(Array.from(bytes.subarray(0, 3))).toEqual([1, 2, 3]);
    expect(Array.from(bytes.subarray(4096))).toEqual([9, 8, 7, 6, 5]);
    file.remove();
    expect(existsSync(file.folder)).toBe(false);
  });

  it("builds a session from the file, deletes it, and gives the same products as one encoded in memory", () => {
    // a temp folder of its own: other test files build quantized sessions in the shared one meanwhile
    const own = mkdtempSync(path.join(tmpdir(), "infuse-init-test-"));
    process.env["TMPDIR"] = own;
    const ours = (): string[] => readdirSync(own).filter((f) => f.startsWith("infuse-init-"));
    let made = false;
    const encode: typeof gemm = (place) => {
      made = ours().length === 1;
      return gemm(place);
    };
    try {
      const g = ortGraphOfEncoded(encode, "gemm-from-file");
      const y = new Float32Array(2);
      g.run({ X: { data: Float32Array.of(1, 1, 1), dims: [1, 3] } }, { Y: { data: y, dims: [1, 2] } });
      g.dispose();
      expect(Array.from(y)).toEqual([6, 15]);
      expect(made).toBe(true); // the file was there while the model was encoded
      expect(ours()).toEqual([]); // and is gone once the session is built
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("encodes the model in memory where the temp folder cannot be written", () => {
    process.env["TMPDIR"] = path.join(tmpdir(), "infuse-no-such-folder", "deeper");
    expect(InitializerFile.create()).toBeNull();
    expect(runGemm("gemm-in-memory")).toEqual([6, 15]);
  });

  it("MatMulNBits weights (ortQuantWeight) built through the file agree with the dequantized product", () => {
    // W (2, 32): row r = (i − 16) · (r + 1) / 8 as 8-bit blocks, scale (r + 1) / 8, zero point 128
    const packed = new Uint8Array(64);
    for (let r = 0; r < 2; r++) for (let i = 0; i < 32; i++) packed[r * 32 + i] = 128 + i - 16;
    const scales = Float32Array.of(1 / 8, 2 / 8);
    const k = ortQuantWeight({ bits: 8, blockSize: 32, n: 2, k: 32, packed, scales });
    const x = new Float32Array(32).fill(1);
    const y = new Float32Array(2);
    k.run(x, 1, y);
    k.dispose();
    const sum = Array.from({ length: 32 }, (_, i) => i - 16).reduce((a, b) => a + b, 0);
    expect(Array.from(y)).toEqual([sum / 8, (2 * sum) / 8]);
  });
});

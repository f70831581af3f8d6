// Dequantizers checked against llama.cpp itself: a model whose token_embd is quantized gives
// the same logits as one whose token_embd is our dequantization of those bytes. Also half
// conversions and our Q8_0/Q4_0 quantizers (written models load and stay close to F32).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GgmlType,
  bf16ToF32,
  dequantize,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  ggmlTypeName,
  openGguf,
  quantize,
  writeGguf,
  type GgufKV,
} from "../../src/formats/gguf/index.js";
import { fixture } from "../helpers/fixtures.js";
import { loadOracleModel, oracleLogits, disposeOracle } from "./oracle.js";
import { randomBlocks } from "./quant-blocks.js";
import { seededFloats, tinyLlama } from "./tiny-models.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-quant-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const VOCAB = 512;
const EMBD = 256; // k-quants need rows of 256
const PROMPT = [1, 400, 300, 12];
let tokenizer: Map<string, GgufKV>;

beforeAll(async () => {
  const g = await openGguf(fixture("models/stories260K-gguf/stories260K.gguf"));
  tokenizer = new Map([...g.metadata].filter(([k]) => k.startsWith("tokenizer.")));
  g.close();
});
afterAll(disposeOracle);

async function logitsOf(file: string): Promise<Float32Array> {
  const model = await loadOracleModel(file);
  try {
    return await oracleLogits(model, PROMPT, VOCAB);
  } finally {
    await model.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("dequantize equals llama.cpp", () => {
  const types = [
    GgmlType.Q4_0,
    GgmlType.Q4_1,
    GgmlType.Q5_0,
    GgmlType.Q5_1,
    GgmlType.Q8_0,
    GgmlType.Q4_K,
    GgmlType.Q5_K,
    GgmlType.Q6_K,
  ];
  for (const type of types) {
    it(`${ggmlTypeName(type)} token_embd gives the logits of its float32 dequantization`, async () => {
      const m = tinyLlama({ vocabSize: VOCAB, embd: EMBD, ff: 128, tokenizer });
      const bytes = randomBlocks(type, EMBD * VOCAB, type + 10);
      const dims = [EMBD, VOCAB];
      const quantFile = path.join(tmp, `q-${type}.gguf`);
      const floatFile = path.join(tmp, `f-${type}.gguf`);
      m.tensors[0] = { name: "token_embd.weight", dims, type, bytes };
      await writeGguf(quantFile, m);
      const ours = dequantize(type, bytes, EMBD * VOCAB);
      expect(ours.every(Number.isFinite)).toBe(true);
      m.tensors[0] = { name: "token_embd.weight", dims, type: GgmlType.F32, data: ours };
      await writeGguf(floatFile, m);
      const a = await logitsOf(quantFile);
      const b = await logitsOf(floatFile);
      expect(maxAbsDiff(a, b)).toBe(0);
      // The comparison is not vacuous: another dequantization changes the logits.
      expect(a.some((v) => v !== 0)).toBe(true);
    });
  }

  it("Q8_K is d (f32) times int8 (llama.cpp has no get_rows for it, so checked by hand)", () => {
    const bytes = randomBlocks(GgmlType.Q8_K, 512, 3);
    const dv = new DataView(bytes.buffer);
    const y = dequantize(GgmlType.Q8_K, bytes, 512);
    for (const i of [0, 17, 255, 256, 300, 511]) {
      const block = Math.floor(i / 256) * 292;
      expect(y[i]).toBe(Math.fround(dv.getFloat32(block, true) * dv.getInt8(block + 4 + (i % 256))));
    }
  });

  it("refuses unknown types and byte lengths that do not match the count", () => {
    expect(() => dequantize(GgmlType.IQ2_XS, new Uint8Array(66), 256)).toThrow(/cannot dequantize type IQ2_XS/);
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(17), 32)).toThrow(/17 bytes do not hold 32/);
  });
});

describe("half precision", () => {
  it("F16 and BF16 round to nearest even and keep specials", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to inf
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    for (let h = 0; h < 0x7c00; h += 7) expect(f32ToF16(f16ToF32(h))).toBe(h);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(f32ToBf16(3.140625))).toBe(3.140625);
    expect(f32ToBf16(Math.fround(1 + 2 ** -8))).toBe(0x3f80); // tie → even
  });
});

describe("Q8_0 and Q4_0 quantizers", () => {
  const x = seededFloats(32 * 64, 5, 2);

  // Bounds: half a step (a full step where Q4_0 clamps at +7), plus the f16 rounding of the scale.
  it("stay within half a step of the input", () => {
    for (const [type, levels] of [
      [GgmlType.Q8_0, 127],
      [GgmlType.Q4_0, 8],
    ] as const) {
      const y = dequantize(type, quantize(type, x), x.length);
      for (let b = 0; b < x.length / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
        const step = amax / levels;
        for (let j = 0; j < 32; j++) {
          expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual(
            step * ((type === GgmlType.Q4_0 ? 1 : 0.5) + levels * 2 ** -11),
          );
        }
      }
    }
    const q = quantize(
      GgmlType.Q8_0,
      Float32Array.from({ length: 32 }, (_, i) => i - 16),
    );
    expect(f16ToF32(q[0]! | (q[1]! << 8))).toBeCloseTo(16 / 127, 4);
    expect(new Int8Array(q.buffer, 2, 32)[0]).toBe(-127);
  });

  it("written Q8_0 and Q4_0 models load in llama.cpp with logits close to the F32 model", async () => {
    const files: Record<string, string> = {};
    for (const type of [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0]) {
      files[type] = path.join(tmp, `w-${type}.gguf`);
      await writeGguf(files[type], tinyLlama({ vocabSize: VOCAB, embd: 128, ff: 256, tokenizer, matrixType: type }));
    }
    const ref = await logitsOf(files[GgmlType.F32]!);
    const spread = Math.max(...ref) - Math.min(...ref);
    expect(maxAbsDiff(await logitsOf(files[GgmlType.F16]!), ref)).toBeLessThan(spread * 0.01);
    expect(maxAbsDiff(await logitsOf(files[GgmlType.Q8_0]!), ref)).toBeLessThan(spread * 0.03);
    expect(maxAbsDiff(await logitsOf(files[GgmlType.Q4_0]!), ref)).toBeLessThan(spread * 0.3);
  });
});

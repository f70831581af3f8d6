import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { CODECS, QuantTensor, quantize } from "../../src/tensor/quant/formats.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/tensor/quant/half.js";
import { NF4_LEVELS } from "../../src/tensor/quant/blocks.js";
import { qembedding } from "../../src/tensor/quant/qembedding.js";
import { embedding } from "../../src/tensor/ops/gather.js";
import {
  Q8_INT8_MAX_ROWS_NO_DOT,
  REQUANT8_MIN_ROWS,
  q8Int8Rows,
  setQ8Int8Rows,
  qmatmul,
  qmatmulRaw,
  qmatmulTiled,
  releaseQuantKernel,
} from "../../src/tensor/quant/qmatmul.js";
import { setMatmulPath } from "../../src/tensor/kernels/kernel.js";
import { cpuFeatures } from "../../src/tensor/kernels/cpu.js";
import { q4kToNBits, toNBits8 } from "../../src/tensor/quant/nbits.js";
import { matmul } from "../../src/tensor/ops/matmul.js";
import { Rng, randn } from "../../src/tensor/rng.js";
import { GgmlType } from "../../src/formats/gguf/types.js";
import { randomBlocks } from "../formats/quant-blocks.js";
import { expectGrads, maxRelDiff } from "./helpers.js";

const rng = new Rng(5);
/** Types we read from GGUF files and decode, but do not write. */
const STORAGE_ONLY = [
  ["q4_1", GgmlType.Q4_1],
  ["q5_0", GgmlType.Q5_0],
  ["q5_1", GgmlType.Q5_1],
  ["q5_k", GgmlType.Q5_K],
  ["q6_k", GgmlType.Q6_K],
] as const;

describe("half precision", () => {
  it("round-trips f16 and bf16 with round-to-nearest-even", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(f32ToF16(0.1))).toBeCloseTo(0.0999755859375, 12);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(f32ToBf16(3.14159))).toBe(3.140625);
  });
});

describe("block layouts match GGUF", () => {
  it("Q8_0: f16 scale then 32 int8 values, 34 bytes", () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => i - 16);
    const q = quantize("q8_0", x, [32]);
    expect(q.bytes.byteLength).toBe(34);
    const d = f16ToF32(q.bytes[0]! | (q.bytes[1]! << 8));
    expect(d).toBeCloseTo(16 / 127, 4);
    expect(new Int8Array(q.bytes.buffer, 2, 1)[0]).toBe(-127);
  });

  it("Q4_0: low nibbles are elements 0..15, high nibbles 16..31, value (q − 8)·d", () => {
    // Build the bytes by hand: d = 0.5, element j = j − 8 for j < 16 and 7 − (j − 16) after.
    const bytes = new Uint8Array(18);
    const h = f32ToF16(0.5);
    bytes[0] = h & 0xff;
    bytes[1] = h >> 8;
    for (let j = 0; j < 16; j++) bytes[2 + j] = j | ((15 - j) << 4);
    const values = new QuantTensor("q4_0", [32], bytes).dequantize();
    expect(values[0]).toBe(-4);
    expect(values[15]).toBe(3.5);
    expect(values[16]).toBe(3.5);
    expect(values[31]).toBe(-4);
  });

  it("Q4_K: 144-byte super-blocks decode d·sc·q − dmin·m", () => {
    const bytes = new Uint8Array(144);
    const one = f32ToF16(1);
    bytes.set([one & 0xff, one >> 8, one & 0xff, one >> 8], 0);
    bytes[4] = 2; // sub-block 0 scale 2
    bytes[8] = 3; // sub-block 0 min 3
    bytes[12] = 0x51; // sub-block 4: scale low bits 1, min low bits 5
    bytes[4] |= 1 << 6; // sub-block 4 scale high bits 1 → scale 17
    bytes[16] = 0x07; // element 0: q = 7 (sub-block 0); element 32: q = 0 (sub-block 1)
    bytes[16 + 64] = 0x02; // element 128 (sub-block 4): q = 2
    const v = new QuantTensor("q4_k", [256], bytes).dequantize();
    expect(v[0]).toBe(2 * 7 - 3);
    expect(v[128]).toBe(17 * 2 - 5);
  });

  it("NF4 uses the QLoRA table with an absmax scale per 64 values", () => {
    expect(NF4_LEVELS.length).toBe(16);
    const x = Float32Array.from({ length: 64 }, (_, i) => (i === 5 ? -2 : 0));
    const q = quantize("nf4", x, [64]);
    expect(q.bytes.byteLength).toBe(36);
    const v = q.dequantize();
    expect(v[5]).toBe(-2);
    expect(v[4]).toBe(0);
  });

  it("NF4 picks each value's nearest level, the lower on a tie, as a scan of all 16 does", () => {
    // one block of exact levels and midpoints (and their neighbours one float apart), then random ones
    const edges = [...NF4_LEVELS, ...NF4_LEVELS.slice(1).map((l, i) => (l + NF4_LEVELS[i]!) / 2)];
    const special = edges.flatMap((e) => [e, Math.fround(e) + 1e-7, Math.fround(e) - 1e-7]).slice(0, 63);
    const x = new Float32Array(64 * 200);
    x.set([1, ...special]); // absmax 1: the values are their own scaled values
    x.set(randn(rng, 64 * 199, 0.05), 64);
    const bytes = quantize("nf4", x, [x.length]).bytes;
    for (let b = 0; b < 200; b++) {
      const block = x.subarray(b * 64, (b + 1) * 64);
      const amax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const nearest = (v: number): number => {
        let best = 0;
        for (let i = 1; i < 16; i++) if (Math.abs(NF4_LEVELS[i]! - v) < Math.abs(NF4_LEVELS[best]! - v)) best = i;
        return best;
      };
      for (let j = 0; j < 32; j++) {
        const byte = bytes[b * 36 + 4 + j]!;
        expect(byte >> 4, `block ${b} value ${2 * j}`).toBe(nearest(block[2 * j]! * (1 / amax)));
        expect(byte & 15, `block ${b} value ${2 * j + 1}`).toBe(nearest(block[2 * j + 1]! * (1 / amax)));
      }
    }
  });

  it.each(["f16", "bf16", "q8_0", "q4_0", "q4_k", "nf4"] as const)(
    "%s round-trip error is within its precision",
    (type) => {
      const x = randn(rng, 4 * 256);
      const back = quantize(type, x, [4, 256]).dequantize();
      const tol = { f16: 1e-3, bf16: 1e-2, q8_0: 2e-2, q4_0: 0.3, q4_k: 0.3, nf4: 0.3 }[type];
      let err = 0;
      let ref = 0;
      for (let i = 0; i < x.length; i++) {
        err += (back[i]! - x[i]!) ** 2;
        ref += x[i]! ** 2;
      }
      expect(Math.sqrt(err / ref)).toBeLessThan(tol);
    },
  );

  it("reads f16/bf16 bytes at any offset (a view into a file buffer), including negatives", () => {
    const x = Float32Array.of(-1.5, 2, -0.25, 65504);
    for (const type of ["f16", "bf16"] as const) {
      const q = quantize(type, x, [4]);
      const file = new Uint8Array(q.bytes.byteLength + 1);
      file.set(q.bytes, 1); // odd offset: not 2-byte aligned
      const view = new QuantTensor(type, [4], file.subarray(1));
      expect(Array.from(view.dequantize())).toEqual(type === "f16" ? [-1.5, 2, -0.25, 65504] : [-1.5, 2, -0.25, 65536]);
    }
  });

  it("Q8_0 and Q4_0 blocks hold the bytes ggml's reference quantizers give (worked by hand)", () => {
    // Q8_0: amax 127 → d = 1 (f16 0x3c00), q = roundf(x): halves go away from zero
    const x8 = new Float32Array(32);
    x8.set([-127, 2.5, -2.5, 0.49, 126.5]);
    const q8 = quantize("q8_0", x8, [1, 32]).bytes;
    expect(Array.from(q8.subarray(0, 7))).toEqual([0x00, 0x3c, -127 & 0xff, 3, -3 & 0xff, 0, 127]);
    // Q4_0: the value of largest magnitude is -8 → d = -8/-8 = 1; q = min(15, trunc(x + 8.5));
    // byte j packs element j (low nibble) and element j+16 (high nibble)
    const x4 = new Float32Array(32);
    x4.set([-8, 2.5, -2.5, 7.4]);
    x4[16] = 7;
    x4[17] = -3.6;
    const q4 = quantize("q4_0", x4, [1, 32]).bytes;
    expect(Array.from(q4.subarray(0, 6))).toEqual([
      0x00,
      0x3c,
      0 | (15 << 4),
      11 | (4 << 4),
      6 | (8 << 4),
      15 | (8 << 4),
    ]);
  });

  it("qembedding gathers dequantized rows, equal to embedding on the dequantized table", () => {
    const table = quantize("q4_k", randn(rng, 10 * 256), [10, 256]);
    const ids = Int32Array.from([9, 0, 9, 3]);
    const ours = qembedding(table, ids, [2, 2]);
    expect(ours.shape).toEqual([2, 2, 256]);
    expect(ours.toArray()).toEqual(embedding(new Tensor(table.dequantize(), [10, 256]), ids, [2, 2]).toArray());
    expect(() => qembedding(table, Int32Array.of(10))).toThrow(/id 10 at position 0 is outside \[0, 10\)/);
  });

  it("refuses a quantized weight in matmul and an f32 one in qmatmul (wrong_dtype)", () => {
    const w = quantize("q8_0", randn(rng, 64), [2, 32]);
    const x = new Tensor(randn(rng, 32), [1, 32]);
    expect(() => matmul(x, w as unknown as Tensor)).toThrow(/matmul: operands must be f32 Tensors, got QuantTensor/);
    expect(() => qmatmul(x, x as unknown as QuantTensor)).toThrow(/qmatmul: W must be a QuantTensor, got Tensor/);
  });

  it("drops its bytes only when it can reload them, and reads them back on use", () => {
    const x = randn(rng, 2 * 64);
    const stored = quantize("q4_0", x, [2, 64]);
    const plain = new QuantTensor("q4_0", [2, 64], stored.bytes);
    expect(plain.releaseBytes()).toBe(false); // nothing to reload from: the bytes stay
    expect(plain.resident).toBe(true);
    let reads = 0;
    const reloadable = new QuantTensor("q4_0", [2, 64], stored.bytes.slice(), () => (reads++, stored.bytes.slice()));
    expect(reloadable.releaseBytes()).toBe(true);
    expect(reloadable.resident).toBe(false);
    expect(Array.from(reloadable.dequantize())).toEqual(Array.from(stored.dequantize()));
    expect(reloadable.resident).toBe(true);
    reloadable.dequantize();
    expect(reads).toBe(1); // kept after one reload
    const short = new QuantTensor("q4_0", [2, 64], stored.bytes, () => new Uint8Array(4));
    short.releaseBytes();
    expect(() => short.dequantize()).toThrow(/reloaded 4 bytes for q4_0 \(2, 64\), expected 72/);
  });

  it("a released weight serves a few rows from its reader alone, and larger reads bring it all back", () => {
    const stored = quantize("q8_0", randn(rng, 8 * 64), [8, 64]);
    const ranges: string[] = [];
    const w = new QuantTensor("q8_0", [8, 64], stored.bytes.slice(), (range) => {
      ranges.push(range ? `${range.offset}+${range.length}` : "all");
      return range ? stored.bytes.slice(range.offset, range.offset + range.length) : stored.bytes.slice();
    });
    w.releaseBytes();
    const row = new Float32Array(2 * 64);
    w.dequantizeRows(3, 5, row); // an embedding lookup: two rows of 2 blocks × 34 bytes
    expect(Array.from(row)).toEqual(Array.from(stored.dequantize().subarray(3 * 64, 5 * 64)));
    expect(ranges).toEqual([`${3 * 68}+${2 * 68}`]);
    expect(w.resident).toBe(false); // nothing held: the table stays out of memory
    expect(Array.from(qembedding(w, Int32Array.of(7, 0)).data)).toEqual(
      Array.from(qembedding(stored, Int32Array.of(7, 0)).data),
    );
    expect(w.resident).toBe(false);
    w.dequantize(); // the whole weight (a backward pass, a kernel): read once and kept
    expect(ranges.at(-1)).toBe("all");
    expect(w.resident).toBe(true);
  });

  it("Q4_K as MatMulNBits 4-bit blocks (the layer graphs' form): scale·(q − zero) − rest gives its values", () => {
    const [k, n] = [512, 40];
    const parts = [quantize("q4_k", randn(rng, n * k), [n, k]), quantize("q4_k", randn(rng, 8 * k), [8, k])];
    const form = q4kToNBits(parts)!;
    expect([form.n, form.k, form.bits, form.zeros.length]).toEqual([n + 8, k, 4, (n + 8) * (k / 64)]);
    const want = new Float32Array([...parts[0]!.dequantize(), ...parts[1]!.dequantize()]);
    const got = new Float32Array(want.length);
    for (let b = 0; b < want.length / 32; b++)
      for (let i = 0; i < 32; i++) {
        const q = (form.packed[b * 16 + (i >> 1)]! >> ((i & 1) * 4)) & 0x0f;
        const zero = (form.zeros[b >> 1]! >> ((b & 1) * 4)) & 0x0f; // k/32 even: rows share no byte
        expect(Math.abs(form.minRests[b]!)).toBeLessThanOrEqual(form.scales[b]! / 2 + 1e-6);
        got[b * 32 + i] = form.scales[b]! * (q - zero) - form.minRests[b]!;
      }
    expect(maxRelDiff(got, want)).toBeLessThan(1e-6); // f32 rounding of scale·zero
    expect(q4kToNBits([parts[0]!, quantize("q8_0", randn(rng, 32 * k), [32, k])])).toBeNull();
  });

  // Their values are checked bit-exact against llama.cpp in test/formats/gguf-quant.test.ts.
  it.each(["q4_k", "nf4"] as const)(
    "%s prompt-sized products run requantized to 8 bits on int8 dot products; decode-sized stay exact",
    (type) => {
      const [k, n] = [256, 300];
      const w = quantize(type, randn(rng, n * k), [n, k]);
      // toNBits8 rounds each value once more, by at most max|w|/254 of its block of 32
      const form = toNBits8(w)!;
      const dq = w.dequantize();
      for (let b = 0; b < dq.length / 32; b++) {
        for (let i = 0; i < 32; i++) {
          const v = form.scales[b]! * (form.packed[b * 32 + i]! - 128);
          expect(Math.abs(v - dq[b * 32 + i]!)).toBeLessThanOrEqual((form.scales[b]! * 127) / 254 + 1e-7);
        }
      }
      const errAt = (m: number): number => {
        const x = randn(rng, m * k);
        const ours = new Float32Array(m * n);
        qmatmulRaw(x, w, ours, m);
        const dense = matmul(new Tensor(x, [m, k]), new Tensor(dq, [n, k]), { transB: true });
        return maxRelDiff(ours, dense.data);
      };
      expect(errAt(REQUANT8_MIN_ROWS - 1)).toBeLessThan(1e-5);
      const prompt = errAt(REQUANT8_MIN_ROWS);
      expect(prompt).toBeLessThan(2e-2);
      if (cpuFeatures().int8Dot)
        expect(prompt).toBeGreaterThan(1e-5); // the int8 kernel ran
      else expect(prompt).toBeLessThan(1e-5);
      releaseQuantKernel(w);
    },
  );

  it.each(STORAGE_ONLY)("%s is storage-only: decodes by rows, refuses to be written", (type, ggml) => {
    const [n, k] = [6, 512];
    const w = new QuantTensor(type, [n, k], randomBlocks(ggml, n * k, 7));
    const all = w.dequantize();
    expect(all.every(Number.isFinite)).toBe(true);
    expect(new Set(all).size).toBeGreaterThan(64);
    const rows = new Float32Array(2 * k);
    w.dequantizeRows(3, 5, rows);
    expect(Array.from(rows)).toEqual(Array.from(all.subarray(3 * k, 5 * k)));
    const err = (() => {
      try {
        quantize(type, all, [n, k]);
      } catch (e) {
        return e as { code: string; message: string };
      }
      return null;
    })();
    expect(err?.code).toBe("tensor.quantize_unsupported");
    expect(err?.message).toContain(`cannot write ${type}`);
    expect(err?.message).toContain("f16, bf16, q8_0, q4_0, q4_k, nf4");
  });

  it("refuses bytes that do not fit the type and shape", () => {
    expect(() => new QuantTensor("q8_0", [2, 32], new Uint8Array(60))).toThrow(
      /q8_0 \(2, 32\) needs .* 68 bytes, got 60/,
    );
    expect(CODECS.q4_k.blockBytes).toBe(144);
  });
});

describe("quantized matmul", () => {
  it("equals x · dequant(W)ᵀ across tiles, with gradients to x", () => {
    const [m, k, n] = [3, 64, 40];
    const w = quantize("q4_0", randn(rng, n * k), [n, k]);
    const x = new Tensor(randn(rng, m * k), [m, k], true);
    const dense = matmul(x, new Tensor(w.dequantize(), [n, k]), { transB: true });
    expect(maxRelDiff(qmatmul(x, w).data, dense.data)).toBeLessThan(1e-5);
    expectGrads(([a]) => qmatmul(a!, w), [new Tensor(randn(rng, 2 * k), [2, k], true)]);
  });

  it("handles weights larger than one dequantization tile", () => {
    const [m, k, n] = [8, 4096, 300]; // 1.2 M values: two tiles (qmatmul keeps Q8_0 exact)
    const w = quantize("q8_0", randn(rng, n * k, 0.02), [n, k]);
    const x = new Tensor(randn(rng, m * k), [m, k]);
    const dense = matmul(x, new Tensor(w.dequantize(), [n, k]), { transB: true });
    expect(maxRelDiff(qmatmul(x, w).data, dense.data)).toBeLessThan(1e-5);
    const nf4 = quantize("nf4", randn(rng, n * k, 0.02), [n, k]);
    const denseNf4 = matmul(x, new Tensor(nf4.dequantize(), [n, k]), { transB: true });
    expect(maxRelDiff(qmatmul(x, nf4).data, denseNf4.data)).toBeLessThan(1e-5);
  });

  it("a Q4_0 weight's bytes are dropped once MatMulNBits holds it (decoding), and qmatmul reads them back", () => {
    const [m, k, n] = [5, 96, 130];
    const stored = quantize("q4_0", randn(rng, n * k), [n, k]);
    let reads = 0;
    const w = new QuantTensor("q4_0", [n, k], stored.bytes.slice(), () => (reads++, stored.bytes.slice()));
    qmatmulRaw(randn(rng, m * k), w, new Float32Array(m * n), m);
    expect(w.resident).toBe(false); // onnxruntime's prepacked copy is the only one now
    const x = new Tensor(randn(rng, m * k), [m, k], true);
    const y = qmatmul(x, w); // training's exact product: tiles, from the bytes read back
    const dense = matmul(x, new Tensor(stored.dequantize(), [n, k]), { transB: true });
    expect(maxRelDiff(y.data, dense.data)).toBeLessThan(1e-5);
    const g = randn(rng, m * n);
    y.backward({ grad: g });
    const gx = x.grad!.data.slice();
    x.grad = null;
    dense.backward({ grad: g });
    expect(maxRelDiff(gx, x.grad!.data)).toBeLessThan(1e-5);
    expect(reads).toBe(1);
    releaseQuantKernel(w);
  });

  it("qmatmul leaves a Q4_0 weight resident with no onnxruntime copy (its backward needs the bytes)", () => {
    const [m, k, n] = [128, 256, 520]; // above the fast-path threshold: Q4_0 would take MatMulNBits
    const stored = quantize("q4_0", randn(rng, n * k), [n, k]);
    let reads = 0;
    const w = new QuantTensor("q4_0", [n, k], stored.bytes.slice(), () => (reads++, stored.bytes.slice()));
    const y = qmatmul(new Tensor(randn(rng, m * k), [m, k], true), w);
    expect(w.resident).toBe(true);
    y.backward({ grad: randn(rng, m * n) });
    expect(reads).toBe(0);
  });

  it("Q8_0 switches from int8 activations to exact tiles above the row limit; exact when asked and in qmatmul", () => {
    // The limit follows the CPU: every M with int8 dot products in hardware, else Q8_INT8_MAX_ROWS_NO_DOT.
    expect(q8Int8Rows()).toBe(cpuFeatures().int8Dot ? Infinity : Q8_INT8_MAX_ROWS_NO_DOT);
    const Q8_INT8_MAX_ROWS = Q8_INT8_MAX_ROWS_NO_DOT;
    setQ8Int8Rows(Q8_INT8_MAX_ROWS);
    const [k, n] = [64, 520]; // M·K·N ≥ the fast-path threshold at every M below
    const w = quantize("q8_0", randn(rng, n * k), [n, k]);
    const errAt = (m: number, options: { exact?: boolean } = {}): number => {
      const x = randn(rng, m * k);
      const ours = new Float32Array(m * n);
      const dense = new Float32Array(m * n);
      qmatmulRaw(x, w, ours, m, options);
      setMatmulPath("reference");
      try {
        qmatmulTiled(x, w, dense, m);
      } finally {
        setMatmulPath("auto");
      }
      return maxRelDiff(ours, dense);
    };
    for (const m of [1, Q8_INT8_MAX_ROWS]) {
      expect(errAt(m)).toBeGreaterThan(1e-5); // the int8 kernel ran (~5e-3)
      expect(errAt(m)).toBeLessThan(1e-2);
      expect(errAt(m, { exact: true })).toBeLessThan(1e-5);
    }
    expect(errAt(Q8_INT8_MAX_ROWS + 1)).toBeLessThan(1e-5);
    setQ8Int8Rows(Infinity);
    expect(errAt(Q8_INT8_MAX_ROWS + 1)).toBeGreaterThan(1e-5); // int8 at any M (CPUs with VNNI/dot)
    setQ8Int8Rows(undefined);
    // The differentiable qmatmul is exact at any M and grad mode: its backward differentiates dequant(W).
    const x = new Tensor(randn(rng, 2 * k), [2, k]);
    const dense = matmul(x, new Tensor(w.dequantize(), [n, k]), { transB: true });
    expect(maxRelDiff(qmatmul(x, w).data, dense.data)).toBeLessThan(1e-5);
    releaseQuantKernel(w);
  });

  it.each(STORAGE_ONLY)(
    "%s runs on dequantized tiles: exact for the decoder and for qmatmul, with gradients",
    (type, ggml) => {
      const [k, n] = [512, 2100]; // 1.08 M values: two tiles
      const w = new QuantTensor(type, [n, k], randomBlocks(ggml, n * k, 11));
      const dequantized = new Tensor(w.dequantize(), [n, k]);
      for (const m of [1, 5]) {
        const x = randn(rng, m * k);
        const raw = new Float32Array(m * n);
        qmatmulRaw(x, w, raw, m); // the decoder's call: no int8 path for these types
        const dense = matmul(new Tensor(x, [m, k]), dequantized, { transB: true });
        expect(maxRelDiff(raw, dense.data)).toBeLessThan(1e-5);
      }
      const small = new QuantTensor(
        type,
        [3, k],
        w.bytes.subarray(0, (3 * k * CODECS[type].blockBytes) / CODECS[type].blockValues),
      );
      expectGrads(([a]) => qmatmul(a!, small), [new Tensor(randn(rng, 2 * k), [2, k], true)]);
    },
  );

  it.each([
    ["q4_0", 7, 1e-2], // Q4_0 at any M, and decode-sized Q8_0: x is quantized to int8 per block, as llama.cpp does
    ["q8_0", 2, 1e-2],
  ] as const)("%s on onnxruntime MatMulNBits agrees with the dequantized f32 product (M = %i)", (type, m, tol) => {
    const [k, n] = [96, 130];
    const w = quantize(type, randn(rng, n * k), [n, k]);
    const x = randn(rng, m * k);
    const fast = new Float32Array(m * n);
    const tiled = new Float32Array(m * n);
    qmatmulRaw(x, w, fast, m);
    setMatmulPath("reference");
    try {
      qmatmulTiled(x, w, tiled, m);
    } finally {
      setMatmulPath("auto");
    }
    const err = maxRelDiff(fast, tiled);
    expect(err).toBeLessThan(tol);
    expect(err).toBeGreaterThan(0); // the int8 kernel ran, not the tiles
    releaseQuantKernel(w);
    qmatmulRaw(x, w, fast, m); // rebuilt after release
    expect(maxRelDiff(fast, tiled)).toBeLessThan(tol);
    qmatmulRaw(x, w, fast, m, { exact: true }); // f32-accuracy kernel (Q4_0) or tiles (Q8_0)
    expect(maxRelDiff(fast, tiled)).toBeLessThan(1e-5);
  });
});

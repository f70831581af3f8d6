// GGUF reader and writer on the real stories260K file: header, metadata types, lazy tensor
// reads, byte-identical rewrite, and hostile files that must fail with InfuseError.
import { mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { GgmlType, GgufValueType, kv, openGguf, writeGguf, type GgufFile } from "../../src/formats/gguf/index.js";
import { fixture } from "../helpers/fixtures.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-gguf-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectInfuseError(p: Promise<unknown>, code: string, ...mentions: string[]): Promise<InfuseError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InfuseError);
  const err = e as InfuseError;
  expect(err.code).toBe(code);
  for (const m of mentions) expect(err.message).toContain(m);
  return err;
}

describe("GGUF reader on stories260K", () => {
  it("parses the header, typed metadata and tensor infos", async () => {
    const g = await openGguf(STORIES);
    try {
      expect(g.version).toBe(3);
      expect(g.metadata.size).toBe(19);
      expect(g.tensors).toHaveLength(48);
      expect(g.architecture).toBe("llama");
      expect(g.metadata.get("llama.block_count")).toEqual({ type: GgufValueType.UINT32, value: 5 });
      expect(g.get("llama.embedding_length")).toBe(64);
      const tokens = g.get("tokenizer.ggml.tokens") as string[];
      expect(tokens).toHaveLength(512);
      expect(tokens[1]).toBe("<s>");
      expect(g.metadata.get("tokenizer.ggml.scores")?.value).toBeInstanceOf(Float32Array);
      const params = g.tensors.reduce((a, t) => a + t.elementCount, 0);
      expect(params).toBe(292_800);
      expect(new Set(g.tensors.map((t) => t.type))).toEqual(new Set([GgmlType.F32]));
      const emb = g.tensor("token_embd.weight")!;
      expect(emb.dims).toEqual([64, 512]);
      expect(emb.offset % g.alignment).toBe(0);
      // Lazy read: exactly this tensor's bytes, equal to the file's bytes at its offset.
      const bytes = await g.readTensorBytes("token_embd.weight");
      const raw = readFileSync(STORIES).subarray(emb.offset, emb.offset + emb.byteSize);
      expect(Buffer.compare(Buffer.from(bytes), raw)).toBe(0);
      const f = await g.readTensorF32("token_embd.weight");
      expect(f[0]).toBe(raw.readFloatLE(0));
    } finally {
      g.close();
    }
  });

  it("writes every metadata type and tensor back byte-identically", async () => {
    const g = await openGguf(STORIES);
    const tensors = [];
    for (const t of g.tensors)
      tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: await g.readTensorBytes(t.name) });
    const out = path.join(tmp, "rewrite.gguf");
    await writeGguf(out, { metadata: g.metadata, tensors });
    g.close();
    expect(Buffer.compare(readFileSync(out), readFileSync(STORIES))).toBe(0);
  });

  it("round-trips every value type, nested arrays and a custom alignment", async () => {
    const metadata = new Map([
      ["general.alignment", kv.u32(64)],
      ["t.u8", { type: GgufValueType.UINT8, value: 200 }],
      ["t.i8", { type: GgufValueType.INT8, value: -100 }],
      ["t.u16", { type: GgufValueType.UINT16, value: 60000 }],
      ["t.i16", { type: GgufValueType.INT16, value: -30000 }],
      ["t.u32", kv.u32(4_000_000_000)],
      ["t.i32", kv.i32(-2_000_000_000)],
      ["t.f32", kv.f32(0.5)],
      ["t.bool", kv.bool(true)],
      ["t.str", kv.str("Xin chào 你好 🙂")],
      ["t.u64", kv.u64(2n ** 60n)],
      ["t.i64", { type: GgufValueType.INT64, value: -(2n ** 60n) }],
      ["t.f64", kv.f64(Math.PI)],
      ["t.strs", kv.strs(["a", "", "ß"])],
      ["t.i32s", kv.i32s([1, -2, 3])],
      ["t.bools", { type: GgufValueType.ARRAY, itemType: GgufValueType.BOOL, value: [true, false] }],
      [
        "t.nested",
        { type: GgufValueType.ARRAY, itemType: GgufValueType.ARRAY, value: [kv.strs(["x"]), kv.f32s([1.5])] },
      ],
    ]);
    const out = path.join(tmp, "types.gguf");
    const data = Float32Array.from({ length: 64 }, (_, i) => i / 8);
    await writeGguf(out, {
      metadata,
      tensors: [
        { name: "a", dims: [3], type: GgmlType.F32, data: Float32Array.of(1, 2, 3) },
        { name: "b", dims: [32, 2], type: GgmlType.F16, data },
      ],
    });
    const g = await openGguf(out);
    expect(g.alignment).toBe(64);
    for (const [k, v] of metadata) expect(g.metadata.get(k), k).toEqual(v);
    expect(g.tensor("b")!.offset % 64).toBe(0);
    expect(await g.readTensorF32("b")).toEqual(data);
    g.close();
  });
});

describe("GGUF reader on a multi-GB file", () => {
  it("opens a 4.5 GB (sparse) model and reads one small tensor without reading the rest", async () => {
    const file = path.join(tmp, "huge.gguf");
    const small = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    await writeGguf(file, {
      metadata: { "general.architecture": kv.str("llama") },
      tensors: [
        { name: "small", dims: [8], type: GgmlType.F32, data: small },
        { name: "big", dims: [32, 1], type: GgmlType.Q8_0, data: new Float32Array(32) },
      ],
    });
    // Declare big as 32 x 2^27 Q8_0 rows (4.5 GB) and grow the file sparsely to hold it.
    const bytes = readFileSync(file);
    const dimAt = findTensorInfoEnd(bytes, "big") - 12 - 8;
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(dimAt, 2n ** 27n, true);
    writeFileSync(file, bytes);
    const rows = 2 ** 27;
    const bigBytes = rows * 34;
    const dataStart = Math.ceil((dimAt + 8 + 4 + 8) / 32) * 32;
    truncateSync(file, dataStart + 32 + bigBytes);
    expect(statSync(file).size).toBeGreaterThan(2 ** 32);
    const g = await openGguf(file);
    try {
      const big = g.tensor("big")!;
      expect(big.byteSize).toBe(bigBytes);
      expect(big.offset + big.byteSize).toBe(g.fileSize);
      expect(await g.readTensorF32("small")).toEqual(small);
    } finally {
      g.close();
    }
  });
});

describe("GGUF reader on bad input", () => {
  const original = readFileSync(STORIES);
  const variant = (name: string, bytes: Uint8Array) => {
    const p = path.join(tmp, name);
    writeFileSync(p, bytes);
    return p;
  };
  let info: GgufFile;

  it("names the file and offset when the file is truncated in the metadata or in the data", async () => {
    const inMeta = variant("cut-meta.gguf", original.subarray(0, 5000));
    const err = await expectInfuseError(openGguf(inMeta), "gguf.truncated", inMeta, "byte");
    expect(err.details["offset"]).toBeTypeOf("number");
    const inData = variant("cut-data.gguf", original.subarray(0, original.length - 100));
    await expectInfuseError(openGguf(inData), "gguf.truncated", "tensor blk.4.ffn_norm.weight", "byte 1185120", inData);
    await expectInfuseError(openGguf(variant("empty.gguf", new Uint8Array(0))), "gguf.truncated", "magic");
  });

  it("rejects a bad magic, an unknown tensor type and lengths larger than the file", async () => {
    const bad = Uint8Array.from(original);
    bad[0] = 0x58;
    await expectInfuseError(openGguf(variant("magic.gguf", bad)), "gguf.corrupt", "bad magic");

    info = await openGguf(STORIES);
    const last = info.tensors.at(-1)!;
    info.close();
    // The type field of the last tensor info sits 12 bytes (type u32 + offset u64) before the padding.
    const headerEnd = findTensorInfoEnd(original, last.name);
    const unknown = Uint8Array.from(original);
    new DataView(unknown.buffer).setUint32(headerEnd - 12, 99, true);
    const err = await expectInfuseError(openGguf(variant("type.gguf", unknown)), "gguf.unknown_type", last.name, "99");
    expect(err.details["offset"]).toBe(headerEnd - 12);

    const hugeString = Uint8Array.from(original);
    new DataView(hugeString.buffer).setBigUint64(24, 2n ** 62n, true); // first key's length
    await expectInfuseError(openGguf(variant("len.gguf", hugeString)), "gguf.corrupt", "byte 24");

    const hugeDims = Uint8Array.from(original);
    const dimsDv = new DataView(hugeDims.buffer);
    const embEnd = findTensorInfoEnd(original, "token_embd.weight");
    dimsDv.setBigUint64(embEnd - 12 - 16, 2n ** 40n, true); // dim 0
    dimsDv.setBigUint64(embEnd - 12 - 8, 2n ** 40n, true); // dim 1: the product overflows 2^53
    await expectInfuseError(
      openGguf(variant("dims.gguf", hugeDims)),
      "gguf.corrupt",
      "token_embd.weight",
      "too many elements",
    );

    const hugeCount = Uint8Array.from(original);
    new DataView(hugeCount.buffer).setBigUint64(8, 2n ** 40n, true); // tensor count
    await expectInfuseError(openGguf(variant("count.gguf", hugeCount)), "gguf.corrupt", "tensor count");
  });

  it("rejects a tensor whose byte size does not match its shape, and a missing file", async () => {
    const g = await openGguf(STORIES);
    const emb = g.tensor("token_embd.weight")!;
    g.close();
    // Make the first dim 65: 65*512 F32 values run past the next tensor and, for the last, past the file.
    const end = findTensorInfoEnd(original, "output.weight");
    const bad = Uint8Array.from(original);
    new DataView(bad.buffer).setBigUint64(end - 12 - 16, 4096n, true); // output.weight dim 0
    await expectInfuseError(openGguf(variant("shape.gguf", bad)), "gguf.truncated", "output.weight");
    expect(emb.byteSize).toBe(64 * 512 * 4);
    await expectInfuseError(
      writeGguf(path.join(tmp, "w.gguf"), {
        metadata: {},
        tensors: [{ name: "q", dims: [33], type: GgmlType.Q8_0, data: new Float32Array(33) }],
      }),
      "gguf.size_mismatch",
      "q",
    );
    await expectInfuseError(openGguf(path.join(tmp, "nope.gguf")), "gguf.open_failed", "nope.gguf");
  });
});

/** Byte offset just after the tensor info named `name` (its offset field's end). */
function findTensorInfoEnd(file: Uint8Array, name: string): number {
  const needle = Buffer.from(name, "utf8");
  const at = Buffer.from(file).indexOf(needle);
  const dv = new DataView(file.buffer, file.byteOffset);
  const nDims = dv.getUint32(at + needle.length, true);
  return at + needle.length + 4 + nDims * 8 + 4 + 8;
}

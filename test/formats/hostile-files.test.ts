// Hostile or damaged model files fail with named errors naming the file and the part at fault: a GGUF
// nesting metadata arrays 5,000 deep, safetensors headers with null, missing or out-of-range entries,
// PEFT adapter configs with a NaN alpha or a bad rank, NaN in adapter weights, and a merge that would
// write non-finite weights (nothing is written).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType, openGguf, writeGguf, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { readPeftAdapter, writePeftAdapter, type PeftAdapter } from "../../src/formats/peft.js";
import { openSafetensors } from "../../src/formats/safetensors.js";
import { mergeAdapter } from "../../src/train/merge.js";
import { fixture } from "../helpers/fixtures.js";
import { seededFloats } from "./tiny-models.js";
import { infuseErrorOf } from "../helpers/errors.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-hostile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const errorOf = infuseErrorOf;

describe("GGUF metadata arrays nested 5,000 deep", () => {
  it("are gguf.corrupt naming the key, not a stack overflow", async () => {
    const u32 = (v: number): Buffer => Buffer.from(new Uint32Array([v]).buffer);
    const u64 = (v: number): Buffer => Buffer.from(new BigUint64Array([BigInt(v)]).buffer);
    const key = Buffer.from("evil.nested");
    const parts = [u32(0x46554747), u32(3), u64(0), u64(1), u64(key.length), key, u32(GgufValueType.ARRAY)];
    for (let d = 0; d < 5000; d++) parts.push(u32(GgufValueType.ARRAY), u64(1)); // an array holding one array …
    parts.push(u32(GgufValueType.UINT8), u64(0)); // … down to an empty u8 array
    const file = path.join(tmp, "nested.gguf");
    writeFileSync(file, Buffer.concat(parts));
    const e = await errorOf(openGguf(file));
    expect(e.code).toBe("gguf.corrupt");
    expect(e.message).toContain(file);
    expect(e.message).toContain("evil.nested nests arrays deeper than");
  });
});

describe("safetensors headers", () => {
  /** A file with `header` as its JSON header and `dataBytes` zero bytes of data. */
  function stFile(name: string, header: unknown, dataBytes: number): string {
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(tmp, `${name}.safetensors`);
    writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
    return file;
  }
  const ok = { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] };
  const cases: [string, unknown, string][] = [
    ["null entry", { w: null }, "safetensors.corrupt"],
    ["entry not an object", { w: [1, 2] }, "safetensors.corrupt"],
    ["missing dtype", { w: { shape: [4], data_offsets: [0, 16] } }, "safetensors.corrupt"],
    ["unknown dtype", { w: { ...ok, dtype: "F8_E4M3" } }, "safetensors.unsupported_dtype"],
    ["dtype that is a prototype key", { w: { ...ok, dtype: "toString" } }, "safetensors.unsupported_dtype"],
    ["missing shape", { w: { dtype: "F32", data_offsets: [0, 16] } }, "safetensors.corrupt"],
    ["negative dim", { w: { ...ok, shape: [-2, -2] } }, "safetensors.corrupt"],
    ["fractional dim", { w: { ...ok, shape: [2.5, 1.6] } }, "safetensors.corrupt"],
    ["missing data_offsets", { w: { dtype: "F32", shape: [4] } }, "safetensors.corrupt"],
    ["offsets into the header", { w: { ...ok, data_offsets: [-16, 0] } }, "safetensors.corrupt"],
    ["offsets reversed", { w: { ...ok, data_offsets: [16, 0] } }, "safetensors.corrupt"],
    ["offsets as strings", { w: { ...ok, data_offsets: ["0", "16"] } }, "safetensors.corrupt"],
    ["size not dtype × shape", { w: { ...ok, data_offsets: [0, 12] } }, "safetensors.size_mismatch"],
    ["past the end", { w: { ...ok, data_offsets: [16, 32] } }, "safetensors.truncated"],
    ["overlapping tensors", { w: ok, v: { ...ok, data_offsets: [8, 24] } }, "safetensors.corrupt"],
    ["metadata not strings", { __metadata__: { format: 1 }, w: ok }, "safetensors.corrupt"],
    ["header an array", [ok], "safetensors.corrupt"],
  ];
  it.each(cases)("%s is a named error", async (name, header, code) => {
    const file = stFile(name.replace(/\W+/g, "-"), header, 24);
    const e = await errorOf(openSafetensors(file));
    expect(e.code).toBe(code);
    expect(e.kind).toBe("input");
    expect(e.message).toContain(file);
    if (!name.startsWith("header") && !name.startsWith("metadata")) expect(e.message).toMatch(/tensor [wv]/);
  });

  it("a well-formed header with touching tensors still opens", async () => {
    const file = stFile(
      "fine",
      { w: ok, v: { ...ok, data_offsets: [16, 32] }, e: { ...ok, shape: [0], data_offsets: [8, 8] } },
      32,
    );
    const st = await openSafetensors(file);
    expect(st.tensors.map((t) => t.name).sort()).toEqual(["e", "v", "w"]);
    st.close();
  });
});

describe("PEFT adapters and merge", () => {
  // stories260K: 64-wide, 8 heads; adapters on layer 0's q_proj (64 → 64)
  const R = 2;
  const adapter = (b = seededFloats(64 * R, 2, 0.1)): PeftAdapter => ({
    config: { peft_type: "LORA", r: R, lora_alpha: 4, target_modules: ["q_proj"], lora_dropout: 0 },
    pairs: [
      { target: "model.layers.0.self_attn.q_proj.weight", a: seededFloats(R * 64, 1, 0.1), b, r: R, in: 64, out: 64 },
    ],
  });
  async function withConfig(name: string, patch: Record<string, unknown>): Promise<string> {
    const dir = path.join(tmp, name);
    await writePeftAdapter(dir, adapter());
    const file = path.join(dir, "adapter_config.json");
    writeFileSync(file, JSON.stringify({ ...adapter().config, ...patch }));
    return dir;
  }

  it.each([
    ["lora_alpha", "NaN"],
    ["lora_alpha", 0],
    ["lora_alpha", null],
    ["r", 0],
    ["r", 2.5],
    ["r", "8"],
    ["lora_dropout", 1.5],
    ["use_rslora", "yes"],
    ["target_modules", [1, 2]],
  ])("adapter_config.json with %s = %j is peft.bad_config naming the file and field", async (field, value) => {
    const dir = await withConfig(`cfg-${field}-${String(value)}`, { [field]: value });
    const e = await errorOf(readPeftAdapter(dir));
    expect(e.code).toBe("peft.bad_config");
    expect(e.kind).toBe("input");
    expect(e.message).toContain(path.join(dir, "adapter_config.json"));
    expect(e.details).toMatchObject({ field });
  });

  it('tune merge with lora_alpha "NaN" fails and writes nothing', async () => {
    const dir = await withConfig("merge-nan-alpha", { lora_alpha: "NaN" });
    const out = path.join(tmp, "nan-alpha.gguf");
    expect((await errorOf(mergeAdapter(STORIES, dir, out))).code).toBe("peft.bad_config");
    expect(existsSync(out)).toBe(false);
  });

  it("NaN in an adapter's weights is peft.not_finite naming the tensor", async () => {
    const dir = path.join(tmp, "nan-b");
    const b = seededFloats(64 * R, 2, 0.1);
    b[5] = NaN;
    await writePeftAdapter(dir, adapter(b));
    const e = await errorOf(readPeftAdapter(dir));
    expect(e.code).toBe("peft.not_finite");
    expect(e.message).toContain("q_proj.lora_B.weight");
  });

  it("a merge whose weights come out non-finite (NaN in the base) fails before writing", async () => {
    const src = await openGguf(STORIES);
    const tensors: GgufTensorInput[] = [];
    for (const t of src.tensors) {
      const data = await src.readTensorF32(t.name);
      if (t.name === "blk.0.attn_q.weight") data[7] = Infinity;
      tensors.push({ name: t.name, dims: t.dims, type: GgmlType.F32, data });
    }
    const base = path.join(tmp, "inf-base.gguf");
    await writeGguf(base, { metadata: src.metadata, tensors });
    src.close();
    const dir = path.join(tmp, "fine-adapter");
    mkdirSync(dir, { recursive: true });
    await writePeftAdapter(dir, adapter());
    const out = path.join(tmp, "inf-merged.gguf");
    const e = await errorOf(mergeAdapter(base, dir, out));
    expect(e.code).toBe("merge.not_finite");
    expect(e.message).toContain("blk.0.attn_q.weight");
    expect(existsSync(out)).toBe(false);
    // the same adapter on the clean base merges
    await mergeAdapter(STORIES, dir, path.join(tmp, "clean-merged.gguf"));
  });
});

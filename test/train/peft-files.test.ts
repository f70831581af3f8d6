// The adapter folder checked against the specifications, not against our own reader: the safetensors
// file parsed by hand (8-byte little-endian header length, JSON header of dtype/shape/data_offsets,
// offsets contiguous and covering the data exactly, optional __metadata__), tensor names and shapes as
// PEFT saves a Llama adapter, and adapter_config.json holding the fields PEFT's LoraConfig reads.
// The other way round: a PEFT folder written here by hand (F16, PEFT's full config) loads with our reader.
// No real PEFT adapter is among the shared fixtures, so the hand-written one stands in for it.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readPeftAdapter } from "../../src/formats/peft.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { loadLora } from "../../src/models/lora/io.js";
import { tune } from "../../src/train/tune.js";
import { writeTinyHfModel } from "../models/tiny-decoders.js";
import { fixture } from "../helpers/fixtures.js";
import { QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(16));
const template = path.join(dir, "qa.txt");
writeFileSync(template, QA_TEMPLATE);

/** Byte width of each safetensors dtype (the specification's list). */
const WIDTH: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
}; // prettier-ignore

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and checks a safetensors file by the specification; returns its tensors and metadata. */
function parseSafetensors(buf: Buffer): {
  entries: Map<string, Entry>;
  metadata?: Record<string, string>;
  data: Buffer;
} {
  expect(buf.length).toBeGreaterThanOrEqual(8);
  const n = buf.readBigUInt64LE(0);
  expect(n).toBeLessThanOrEqual(BigInt(buf.length - 8));
  const headerEnd = 8 + Number(n);
  expect(headerEnd % 8).toBe(0); // the reference writer pads the header with spaces to 8 bytes
  const text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(8, headerEnd));
  expect(text.startsWith("{")).toBe(true);
  expect(/^[^]*}\x20*$/.test(text)).toBe(true); // only spaces after the object
  const header = JSON.parse(text) as Record<string, unknown>;
  const data = buf.subarray(headerEnd);
  let metadata: Record<string, string> | undefined;
  const entries = new Map<string, Entry>();
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      expect(typeof v === "object" && v !== null && !Array.isArray(v)).toBe(true);
      for (const value of Object.values(v as object)) expect(typeof value).toBe("string");
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype: unknown; shape: unknown; data_offsets: unknown };
    expect(Object.keys(t).sort()).toEqual(["data_offsets", "dtype", "shape"]);
    expect(Object.keys(WIDTH)).toContain(t.dtype);
    expect(Array.isArray(t.shape) && t.shape.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
    const [begin, end] = t.data_offsets as [number, number];
    expect((t.data_offsets as number[]).length).toBe(2);
    const count = (t.shape as number[]).reduce((a, b) => a * b, 1);
    expect(end - begin).toBe(count * WIDTH[t.dtype as string]!);
    entries.set(name, { name, dtype: t.dtype as string, shape: t.shape as number[], begin, end });
  }
  // No name twice (JSON.parse would keep the last silently).
  expect(text.match(/"data_offsets"/g)!.length).toBe(entries.size);
  // Offsets sorted, contiguous, from 0 to the end of the file.
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const e of sorted) {
    expect(e.begin).toBe(at);
    at = e.end;
  }
  expect(at).toBe(data.length);
  return { entries, ...(metadata ? { metadata } : {}), data };
}

function f32s(data: Buffer, e: Entry): Float32Array {
  const dv = new DataView(data.buffer, data.byteOffset + e.begin, e.end - e.begin);
  return Float32Array.from({ length: (e.end - e.begin) / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}

/** The fields of PEFT's PeftConfig and LoraConfig dataclasses (src/peft/config.py, tuners/lora/config.py). */
const LORA_CONFIG_FIELDS = new Set([
  "task_type", "peft_type", "auto_mapping", "base_model_name_or_path", "revision", "inference_mode",
  "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout", "fan_in_fan_out", "bias",
  "use_rslora", "modules_to_save", "init_lora_weights", "layers_to_transform", "layers_pattern",
  "rank_pattern", "alpha_pattern", "megatron_config", "megatron_core", "loftq_config", "use_dora",
  "layer_replication",
]); // prettier-ignore

const PEFT_NAME = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])\.weight$/;

/** (in_features, out_features) of each projection of a Llama block. */
function projections(d: { hidden: number; heads: number; kvHeads: number; ffn: number }) {
  const hd = d.hidden / d.heads;
  return {
    q_proj: ["self_attn", d.hidden, d.heads * hd],
    k_proj: ["self_attn", d.hidden, d.kvHeads * hd],
    v_proj: ["self_attn", d.hidden, d.kvHeads * hd],
    o_proj: ["self_attn", d.heads * hd, d.hidden],
    gate_proj: ["mlp", d.hidden, d.ffn],
    up_proj: ["mlp", d.hidden, d.ffn],
    down_proj: ["mlp", d.ffn, d.hidden],
  } as Record<string, [string, number, number]>;
}

/** Checks the adapter folder: every (layer, module) pair present once with PEFT's names and shapes. */
function checkAdapter(
  out: string,
  o: { layers: number; modules: string[]; r: number; dims: Parameters<typeof projections>[0] },
): Record<string, unknown> {
  const st = parseSafetensors(readFileSync(path.join(out, "adapter_model.safetensors")));
  expect(st.metadata).toEqual({ format: "pt" }); // what PEFT's safe_save_file writes
  const proj = projections(o.dims);
  const expected = new Set<string>();
  for (let l = 0; l < o.layers; l++)
    for (const m of o.modules)
      for (const ab of ["A", "B"])
        expected.add(`base_model.model.model.layers.${l}.${proj[m]![0]}.${m}.lora_${ab}.weight`);
  expect(new Set(st.entries.keys())).toEqual(expected);
  for (const e of st.entries.values()) {
    const [, , , mod, ab] = PEFT_NAME.exec(e.name)!;
    const [, inF, outF] = proj[mod!]!;
    expect(e.dtype).toBe("F32"); // the adapters train in f32
    expect(e.shape).toEqual(ab === "A" ? [o.r, inF] : [outF, o.r]);
    const values = f32s(st.data, e);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values.some((v) => v !== 0)).toBe(true); // B starts at zero: trained, it is not
  }
  const config = JSON.parse(readFileSync(path.join(out, "adapter_config.json"), "utf8")) as Record<string, unknown>;
  for (const key of Object.keys(config)) expect(LORA_CONFIG_FIELDS, `unknown LoraConfig field ${key}`).toContain(key);
  expect(config).toMatchObject({
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: o.r,
    target_modules: [...o.modules].sort(),
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
  });
  expect(Number.isInteger(config["r"])).toBe(true);
  expect(typeof config["lora_alpha"]).toBe("number");
  expect(typeof config["lora_dropout"]).toBe("number");
  expect(typeof config["use_rslora"]).toBe("boolean");
  expect(typeof config["base_model_name_or_path"]).toBe("string");
  return config;
}

describe("PEFT adapter files against the specifications", () => {
  it("q_proj/v_proj on a GQA Hugging Face model: names, shapes (A r×in, B out×r), dtype and config", async () => {
    const dims = { hidden: 64, heads: 8, kvHeads: 2, ffn: 96 };
    const model = await writeTinyHfModel(path.join(dir, "tiny-hf"), { modelType: "llama", layers: 2, ...dims });
    const out = path.join(dir, "hf-adapter");
    await tune({
      model,
      data: [{ path: data }],
      out,
      template,
      maxSteps: 2,
      batchSize: 4,
      rank: 4,
      alpha: 8,
      lr: 1e-2,
    });
    const config = checkAdapter(out, { layers: 2, modules: ["q_proj", "v_proj"], r: 4, dims });
    expect(config).toMatchObject({
      lora_alpha: 8,
      lora_dropout: 0.05,
      use_rslora: false,
      base_model_name_or_path: model,
    });
  }, 120_000);

  it("all-linear with rsLoRA on stories260K: every attention and MLP projection of the 5 layers", async () => {
    const out = path.join(dir, "gguf-adapter");
    await tune({
      model: STORIES,
      data: [{ path: data }],
      out,
      template,
      maxSteps: 2,
      batchSize: 4,
      targets: ["all-linear"],
      rslora: true,
      rank: 2,
      alpha: 4,
      dropout: 0,
      lr: 1e-2,
    });
    const modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    const dims = { hidden: 64, heads: 8, kvHeads: 4, ffn: 172 }; // llama2.c stories260K
    const config = checkAdapter(out, { layers: 5, modules, r: 2, dims });
    expect(config).toMatchObject({
      lora_alpha: 4,
      lora_dropout: 0,
      use_rslora: true,
      base_model_name_or_path: STORIES,
    });
  }, 120_000);
});

/** A safetensors file written here from the specification, with F16 data (as PEFT saves half-precision runs). */
function writeF16Safetensors(file: string, tensors: { name: string; shape: number[]; values: number[] }[]): void {
  const f16 = (x: number): number => {
    if (x === 0) return 0;
    const e = Math.floor(Math.log2(Math.abs(x)));
    return (x < 0 ? 0x8000 : 0) | ((e + 15) << 10) | Math.round((Math.abs(x) / 2 ** e - 1) * 1024);
  };
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: "F16", shape: t.shape, data_offsets: [offset, offset + t.values.length * 2] };
    offset += t.values.length * 2;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const body = Buffer.alloc(offset);
  let at = 0;
  for (const t of tensors) for (const v of t.values) at = body.writeUInt16LE(f16(v), at);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), body]));
}

describe("a PEFT folder written by hand", () => {
  it("loads with our reader: F16 tensors, PEFT's full config, onto stories260K's v_proj", async () => {
    const folder = path.join(dir, "hand-peft");
    mkdirSync(folder, { recursive: true });
    // The field set a PEFT save_pretrained of LoraConfig(r=2, lora_alpha=4, target_modules=["v_proj"]) writes.
    const config = {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: "stories260K",
      bias: "none",
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: 4,
      lora_dropout: 0.0,
      megatron_config: null,
      megatron_core: "megatron.core",
      modules_to_save: null,
      peft_type: "LORA",
      r: 2,
      rank_pattern: {},
      revision: null,
      target_modules: ["v_proj"],
      task_type: "CAUSAL_LM",
      use_dora: false,
      use_rslora: false,
    };
    writeFileSync(path.join(folder, "adapter_config.json"), JSON.stringify(config, null, 2));
    const a = Array.from({ length: 2 * 64 }, (_, i) => ((i % 9) - 4) / 8); // (r, in) = (2, 64)
    const b = Array.from({ length: 32 * 2 }, (_, i) => ((i % 7) - 3) / 4); // (out, r) = (32, 2)
    const tensors = [0, 1, 2, 3, 4].flatMap((l) => [
      { name: `base_model.model.model.layers.${l}.self_attn.v_proj.lora_A.weight`, shape: [2, 64], values: a },
      { name: `base_model.model.model.layers.${l}.self_attn.v_proj.lora_B.weight`, shape: [32, 2], values: b },
    ]);
    writeF16Safetensors(path.join(folder, "adapter_model.safetensors"), tensors);
    parseSafetensors(readFileSync(path.join(folder, "adapter_model.safetensors"))); // the hand writer keeps the spec

    const peft = await readPeftAdapter(folder);
    expect(peft.config).toMatchObject({ r: 2, lora_alpha: 4, target_modules: ["v_proj"] });
    expect(peft.pairs).toHaveLength(5);
    const pair = peft.pairs.find((p) => p.target === "model.layers.3.self_attn.v_proj.weight")!;
    expect({ r: pair.r, in: pair.in, out: pair.out }).toEqual({ r: 2, in: 64, out: 32 });
    expect([...pair.a]).toEqual(a);
    expect([...pair.b]).toEqual(b);

    const { model } = await loadLlama(STORIES);
    const set = await loadLora(model, folder);
    expect([...set.adapters.keys()].sort()).toEqual([0, 1, 2, 3, 4].map((l) => `blk.${l}.attn_v`));
    const ad = set.adapters.get("blk.3.attn_v")!;
    expect([...ad.a.data]).toEqual(a);
    expect([...ad.b.data]).toEqual(b); // v rows need no rope permutation
  }, 60_000);
});

// Damaged model files fail at load with named errors instead of running and printing garbage: a
// Hugging Face config.json that is not JSON (the error names the file), a NaN or negative norm epsilon
// or RoPE theta (GGUF and config.json), and NaN or Inf in float weights.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { kv, openGguf, writeGguf, type GgufKV, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { fixture } from "../helpers/fixtures.js";
import { infuseErrorOf } from "../helpers/errors.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const HF_DIR = fixture("models/tinystories-656k-hf");
const tmp = mkdtempSync(path.join(tmpdir(), "infuse-hostile-model-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const errorOf = infuseErrorOf;

/** The HF fixture folder copied, with config.json replaced by `config` (text). */
function hfCopy(name: string, config: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(HF_DIR)) copyFileSync(path.join(HF_DIR, f), path.join(dir, f));
  writeFileSync(path.join(dir, "config.json"), config);
  return dir;
}

/** stories260K rewritten with `meta` over its metadata and `poke` applied to each tensor's floats. */
async function ggufCopy(
  name: string,
  meta: Map<string, GgufKV>,
  poke: (tensor: string, d: Float32Array) => void,
): Promise<string> {
  const src = await openGguf(STORIES);
  const tensors: GgufTensorInput[] = [];
  for (const t of src.tensors) {
    const data = await src.readTensorF32(t.name);
    poke(t.name, data);
    tensors.push({ name: t.name, dims: t.dims, type: t.type, data });
  }
  const file = path.join(tmp, name);
  await writeGguf(file, { metadata: new Map([...src.metadata, ...meta]), tensors });
  src.close();
  return file;
}

describe("a Hugging Face folder", () => {
  const config = JSON.parse(readFileSync(path.join(HF_DIR, "config.json"), "utf8")) as Record<string, unknown>;

  it("whose config.json is not JSON is model.bad_config naming the file", async () => {
    const dir = hfCopy("not-json", '{"model_type": "llama", ');
    const e = await errorOf(loadLlama(dir));
    expect(e.code).toBe("model.bad_config");
    expect(e.kind).toBe("input");
    expect(e.message).toContain(path.join(dir, "config.json"));
  });

  it.each([
    ["rms_norm_eps", "NaN"],
    ["rms_norm_eps", -1e-5],
    ["rope_theta", 0],
    ["hidden_size", 0],
  ])("with %s = %j is model.bad_hparam naming the key", async (key, value) => {
    const dir = hfCopy(`bad-${key}-${String(value)}`, JSON.stringify({ ...config, [key]: value }));
    const e = await errorOf(loadLlama(dir));
    expect(e.code).toBe("model.bad_hparam");
    expect(e.message).toContain(key);
  });
});

describe("a GGUF model", () => {
  it("with a NaN norm epsilon or RoPE base is model.bad_hparam naming the key", async () => {
    const eps = await ggufCopy(
      "nan-eps.gguf",
      new Map([["llama.attention.layer_norm_rms_epsilon", kv.f32(NaN)]]),
      () => {},
    );
    const e = await errorOf(loadLlama(eps));
    expect(e.code).toBe("model.bad_hparam");
    expect(e.message).toContain("llama.attention.layer_norm_rms_epsilon is NaN");
    const theta = await ggufCopy("inf-theta.gguf", new Map([["llama.rope.freq_base", kv.f32(Infinity)]]), () => {});
    expect((await errorOf(loadLlama(theta))).message).toContain("llama.rope.freq_base");
  });

  it.each(["output_norm.weight", "blk.2.ffn_up.weight"])(
    "with NaN in %s is model.not_finite naming it",
    async (name) => {
      const file = await ggufCopy(`nan-${name}.gguf`, new Map(), (t, d) => {
        if (t === name) d[d.length - 1] = NaN;
      });
      const e = await errorOf(loadLlama(file));
      expect(e.code).toBe("model.not_finite");
      expect(e.message).toContain(`tensor ${name} holds NaN`);
    },
  );
});

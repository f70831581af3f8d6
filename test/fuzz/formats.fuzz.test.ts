// Fuzzing the readers of model files from outside (a download, a user's folder): GGUF,
// safetensors, PEFT adapter_config.json and tokenizer.json. Seeds are small valid files from our
// own writers; each run writes a mutation and opens it, reading every (small) tensor. Fixed seed
// and run count; the property is in fuzz.ts (only non-internal InfuseErrors escape).
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, it } from "vitest";
import { GgmlType, kv, openGguf, writeGguf } from "../../src/formats/gguf/index.js";
import { readPeftAdapter, writePeftAdapter } from "../../src/formats/peft.js";
import { openSafetensors, writeSafetensors } from "../../src/formats/safetensors.js";
import { loadHfTokenizer } from "../../src/tokenizers/hf.js";
import { fuzz, hex, mutateBytes, mutateJson, mutateText, showBytes, showText } from "./fuzz.js";

// Crashes this fuzzer found (malformed safetensors headers, a null PEFT config, malformed
// tokenizer.json files) are fixed; their inputs stay below as regression fixtures.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "infuse-fuzz-"));
});

const SMALL = 1 << 20;

/** A safetensors file: the JSON header framed by its length, then 4 data bytes. */
function safetensorsBytes(header: string): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + 4);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

describe("fuzz: model files", () => {
  it("GGUF reader", async () => {
    const seedFile = path.join(dir, "seed.gguf");
    await writeGguf(seedFile, {
      metadata: {
        "general.architecture": kv.str("llama"),
        "general.alignment": kv.u32(32),
        "t.strs": kv.strs(["a", "bc"]),
        "t.f32s": kv.f32s([1.5, -2]),
        "t.u64": kv.u64(7),
      },
      tensors: [
        { name: "a", dims: [4], type: GgmlType.F32, data: Float32Array.of(1, 2, 3, 4) },
        { name: "b", dims: [32, 1], type: GgmlType.Q8_0, data: new Float32Array(32).fill(0.5) },
        { name: "c", dims: [8], type: GgmlType.F16, data: new Float32Array(8).fill(2) },
      ],
    });
    const seed = new Uint8Array(await readFile(seedFile));
    const file = path.join(dir, "fuzz.gguf");
    await fuzz({
      seed: 1401,
      runs: 400,
      input: (rng) => mutateBytes(seed, rng),
      show: showBytes,
      run: async (bytes) => {
        await writeFile(file, bytes);
        const g = await openGguf(file);
        try {
          for (const t of g.tensors) if (t.byteSize < SMALL) await g.readTensorF32(t.name);
        } finally {
          g.close();
        }
      },
    });
  }, 30_000);

  it("safetensors reader", async () => {
    const seedFile = path.join(dir, "seed.safetensors");
    await writeSafetensors(
      seedFile,
      [
        { name: "w", shape: [2, 3], dtype: "F32", data: Float32Array.of(1, 2, 3, 4, 5, 6) },
        { name: "h", shape: [4], dtype: "F16", data: Float32Array.of(1, 2, 3, 4) },
        { name: "b", shape: [2], dtype: "BF16", data: Float32Array.of(1, 2) },
      ],
      { format: "pt" },
    );
    const seed = new Uint8Array(await readFile(seedFile));
    const file = path.join(dir, "fuzz.safetensors");
    const header = () =>
      new TextDecoder().decode(seed.subarray(8, 8 + Number(new DataView(seed.buffer).getBigUint64(0, true))));
    await fuzz({
      seed: 1402,
      runs: 400,
      regressions: [
        // header `[null]`: TypeError Cannot read properties of null (reading 'dtype')
        hex("06000000000000005b6e756c6c5d00000000"),
        // header `null`: TypeError Cannot convert undefined or null to object
        hex("04000000000000006e756c6c00000000"),
        // a tensor without "shape": TypeError Cannot read properties of undefined (reading 'reduce')
        safetensorsBytes('{"w":{"dtype":"F32","data_offsets":[0,4]}}'),
        // "data_offsets": true: TypeError boolean true is not iterable
        safetensorsBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":true}}'),
        // no "data_offsets": TypeError undefined is not iterable
        safetensorsBytes('{"w":{"dtype":"F32","shape":[1]}}'),
      ],
      // half byte mutations, half mutations of the JSON header (kept framed by its length)
      input: (rng) => {
        if (rng.int(2) === 0) return mutateBytes(seed, rng);
        const text =
          rng.int(2) === 0 ? mutateText(header(), rng) : JSON.stringify(mutateJson(JSON.parse(header()), rng));
        const h = new TextEncoder().encode(text);
        const out = new Uint8Array(8 + h.length + 64);
        new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
        out.set(h, 8);
        out.set(seed.subarray(seed.length - 64), 8 + h.length);
        return out;
      },
      show: showBytes,
      run: async (bytes) => {
        await writeFile(file, bytes);
        const f = await openSafetensors(file);
        try {
          for (const t of f.tensors) if (t.byteSize < SMALL) await f.readTensorF32(t.name);
        } finally {
          f.close();
        }
      },
    });
  }, 30_000);

  it("PEFT adapter_config.json", async () => {
    const adapter = path.join(dir, "peft");
    const a = Float32Array.from({ length: 2 * 4 }, (_, i) => i / 10);
    const b = Float32Array.from({ length: 4 * 2 }, (_, i) => -i / 10);
    await writePeftAdapter(adapter, {
      config: {
        peft_type: "LORA",
        r: 2,
        lora_alpha: 4,
        target_modules: ["q_proj"],
        lora_dropout: 0,
        bias: "none",
        task_type: "CAUSAL_LM",
      },
      pairs: [{ target: "model.layers.0.self_attn.q_proj.weight", a, b, r: 2, in: 4, out: 4 }],
    });
    const seedText = await readFile(path.join(adapter, "adapter_config.json"), "utf8");
    const seed = JSON.parse(seedText) as unknown;
    await fuzz({
      seed: 1403,
      runs: 300,
      regressions: ["null"],
      input: (rng) => (rng.int(3) === 0 ? mutateText(seedText, rng) : JSON.stringify(mutateJson(seed, rng))),
      show: showText,
      run: async (text) => {
        await writeFile(path.join(adapter, "adapter_config.json"), text);
        await readPeftAdapter(adapter);
      },
    });
  }, 30_000);

  it("tokenizer.json", async () => {
    const seed = {
      version: "1.0",
      added_tokens: [
        { id: 5, content: "<s>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: null,
      model: {
        type: "BPE",
        dropout: null,
        unk_token: "<unk>",
        vocab: { "<unk>": 0, a: 1, b: 2, ab: 3, c: 4, "<s>": 5 },
        merges: ["a b"],
      },
    };
    const file = path.join(dir, "tokenizer.json");
    await fuzz({
      seed: 1404,
      runs: 200,
      regressions: [
        "[]", // Error: Tokenizer must be a valid object
        "{}", // Error: Tokenizer must contain a "model" property
        JSON.stringify({ ...seed, added_tokens: [null] }), // TypeError: Cannot read properties of null (reading 'content')
        JSON.stringify({ ...seed, pre_tokenizer: { type: "" } }), // Error: Unknown PreTokenizer type:
        JSON.stringify({ ...seed, model: { ...seed.model, vocab: undefined } }), // TypeError: Cannot convert undefined or null to object
      ],
      input: (rng) =>
        rng.int(3) === 0 ? mutateText(JSON.stringify(seed), rng) : JSON.stringify(mutateJson(seed, rng)),
      show: showText,
      run: async (text) => {
        await writeFile(file, text);
        const t = await loadHfTokenizer(file);
        t.decode(t.encode("ab c <s> abc"));
      },
    });
  }, 30_000);
});

// `infuse tune merge`: a base GGUF (or HF folder, converted first) with a PEFT adapter folded in,
// W += (alpha/r)·B·A in GGUF row order, written as a new GGUF. Adapted tensors keep their type when
// the writer can encode it (F32, F16, BF16, Q8_0, Q4_0) and become F32 otherwise; others are copied.
// The chat template saved with the adapter becomes the merged file's tokenizer.chat_template.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { InfuseError } from "../core/errors.js";
import type { TaskOptions } from "../core/progress.js";
import { convertHfToGguf } from "../formats/convert/hf-to-gguf.js";
import {
  GGUF_KEYS,
  GgmlType,
  kv,
  openGguf,
  QUANTIZABLE,
  writeGguf,
  type GgufTensorInput,
} from "../formats/gguf/index.js";
import { peftToGgufLora } from "../formats/gguf/lora.js";
import { readPeftAdapter } from "../formats/peft.js";
import { readAdapterChatTemplate } from "../models/chat-template.js";

export interface MergeResult {
  out: string;
  merged: number;
  tensors: number;
  /** Adapted tensors whose type the writer cannot encode, written as F32. */
  widened: string[];
  /** Whether the adapter's chat template was written as tokenizer.chat_template. */
  template: boolean;
}

export async function mergeAdapter(
  base: string,
  adapterDir: string,
  out: string,
  options: TaskOptions = {},
): Promise<MergeResult> {
  let ggufPath = base;
  let tmp: string | null = null;
  if (existsSync(base) && statSync(base).isDirectory()) {
    tmp = mkdtempSync(path.join(tmpdir(), "infuse-merge-"));
    ggufPath = path.join(tmp, "base.gguf");
    await convertHfToGguf(base, ggufPath, { ...options, outType: "F32" });
  }
  const gguf = await openGguf(ggufPath, options);
  try {
    const adapter = await readPeftAdapter(adapterDir);
    const arch = gguf.architecture;
    const heads = Number(gguf.get(`${arch}.attention.head_count`) ?? 0);
    const kvHeads = Number(gguf.get(`${arch}.attention.head_count_kv`) ?? heads);
    const lora = peftToGgufLora(adapter, { modelType: arch, heads, kvHeads });
    const rslora = adapter.config["use_rslora"] === true;
    const scale = rslora
      ? adapter.config.lora_alpha / Math.sqrt(adapter.config.r)
      : adapter.config.lora_alpha / adapter.config.r;
    const byTarget = new Map(lora.pairs.map((p) => [p.target, p]));
    const tensors: GgufTensorInput[] = [];
    const widened: string[] = [];
    for (const t of gguf.tensors) {
      const p = byTarget.get(t.name);
      if (!p) {
        tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: await gguf.readTensorBytes(t.name, options) });
        continue;
      }
      byTarget.delete(t.name);
      if (t.dims[0] !== p.in || t.dims[1] !== p.out) {
        throw new InfuseError(
          "lora.shape_mismatch",
          `${adapterDir}: ${t.name} is [${t.dims.join(", ")}] in ${base}, the adapter is for [${p.in}, ${p.out}]`,
          {
            kind: "input",
            hint: "merge onto the base model the adapter was trained on",
          },
        );
      }
      const w = await gguf.readTensorF32(t.name, options); // (out, in) row-major
      for (let i = 0; i < p.out; i++) {
        for (let j = 0; j < p.r; j++) {
          const bij = p.b[i * p.r + j]! * scale;
          if (bij === 0) continue;
          for (let c = 0; c < p.in; c++) w[i * p.in + c]! += bij * p.a[j * p.in + c]!;
        }
      }
      const bad = w.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new InfuseError("merge.not_finite", `${t.name} merged to ${w[bad]} at element ${bad}; nothing written`, {
          kind: "input",
          hint: `the base ${base} or the adapter ${adapterDir} holds values out of range; check both files`,
          details: { tensor: t.name, index: bad },
        });
      }
      const keep = QUANTIZABLE.includes(t.type);
      if (!keep) widened.push(t.name);
      tensors.push({ name: t.name, dims: t.dims, type: keep ? t.type : GgmlType.F32, data: w });
    }
    if (byTarget.size > 0) {
      throw new InfuseError("lora.unknown_target", `${adapterDir}: ${[...byTarget.keys()].join(", ")} not in ${base}`, {
        kind: "input",
        hint: "merge onto the base model the adapter was trained on",
      });
    }
    const template = await readAdapterChatTemplate(adapterDir);
    const metadata = new Map(gguf.metadata);
    if (template !== undefined) metadata.set(GGUF_KEYS.chatTemplate, kv.str(template));
    await writeGguf(out, { metadata, tensors }, options);
    return { out, merged: lora.pairs.length, tensors: tensors.length, widened, template: template !== undefined };
  } finally {
    gguf.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

// `infuse export BASE [--adapter DIR] [--quantize q4_k_m] --out DIR`: a GGUF users run elsewhere
// (llama.cpp, Ollama, LM Studio), the adapter merged in, the chat template inside, and an Ollama
// Modelfile beside it (train/export does the work).
import { InfuseError } from "../../core/errors.js";
import { exportModel, type ExportResult } from "../../train/export/export.js";
import { EXPORT_QUANTS, type ExportQuant } from "../../train/export/mix.js";
import type { RegisterCommand } from "../runtime.js";

/** One line: the file, its scheme and the tensor types in it, and the Modelfile. */
export function renderExport(r: ExportResult): string {
  const types = Object.entries(r.types)
    .map(([t, n]) => `${n} ${t}`)
    .join(", ");
  const tmpl = r.chatTemplate ? `chat template inside (Modelfile TEMPLATE: ${r.templateFamily})` : "no chat template";
  return `wrote ${r.gguf} (${r.quantize}: ${types}; ${tmpl})\nwrote ${r.modelfile}: ollama create NAME -f ${r.modelfile}`;
}

export const registerExport: RegisterCommand = (program, run) => {
  program
    .command("export")
    .argument("<base>", "the base model: a .gguf file or a Hugging Face folder")
    .option("--adapter <dir>", "a LoRA adapter folder (from infuse tune) to merge in first")
    .option("--quantize <type>", EXPORT_QUANTS.join("|"), "q8_0")
    .option("-o, --out <dir>", "the folder for the GGUF and the Ollama Modelfile")
    .description("write a quantized GGUF with the chat template inside and an Ollama Modelfile")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse export model.gguf --adapter ./adapter --quantize q4_k_m --out ./export\n" +
        "  cd export && ollama create my-model -f Modelfile && ollama run my-model\n" +
        "\nq4_k_m and q5_k_m mix types as llama.cpp does (output and some attn_v/ffn_down as Q6_K);\n" +
        "matrices whose rows do not fill 256-value blocks are written as Q8_0.",
    )
    .action(
      run(async (rt, base: string, flags: { adapter?: string; quantize: string; out?: string }) => {
        if (!flags.out) throw new InfuseError("cli.out_required", "give --out DIR for the export", { kind: "usage" });
        const progress = rt.out.progress();
        let result: ExportResult;
        try {
          result = await exportModel(base, {
            out: flags.out,
            quantize: flags.quantize as ExportQuant,
            ...(flags.adapter !== undefined ? { adapter: flags.adapter } : {}),
            signal: rt.signal,
            onProgress: progress,
          });
        } finally {
          progress.done();
        }
        rt.out.result(result, renderExport);
      }),
    );
};

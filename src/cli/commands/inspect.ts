// `infuse inspect MODEL`: architecture, parameters, tensor types and sizes, context length,
// tokenizer and chat template of a GGUF file or a Hugging Face model folder.
import { inspectGguf, inspectHfFolder, type ModelReport } from "../../formats/inspect.js";
import { resolveModel } from "../../hub/resolve.js";
import { humanBytes, humanCount } from "../output.js";
import type { RegisterCommand } from "../runtime.js";

export const registerInspect: RegisterCommand = (program, run) => {
  program
    .command("inspect")
    .argument("<model>", "a .gguf file, a Hugging Face model folder, or hf:owner/repo[@revision][/file]")
    .option("--tensors", "list every tensor with its type, shape and size")
    .description("show a model's architecture, parameters, tensor types, context length and tokenizer")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse inspect models/stories260K.gguf\n" +
        "  infuse inspect ./tinystories-656k-hf --tensors\n" +
        "  infuse inspect hf:ggml-org/models/tinyllamas/stories260K.gguf --json",
    )
    .action(
      run(async (rt, model: string, opts: { tensors?: boolean }) => {
        const config = await rt.config();
        const resolved = await resolveModel(model, { config, signal: rt.signal });
        const withTensors = opts.tensors === true;
        const gguf = resolved.kind === "gguf" ? resolved.path : undefined;
        const report = gguf
          ? await inspectGguf(gguf, withTensors)
          : await inspectHfFolder(resolved.path, resolved.files, withTensors);
        rt.out.result(report, renderReport);
      }),
    );
};

function renderReport(r: ModelReport): string {
  const opt = (v: number | undefined) => (v === undefined ? "-" : String(v));
  const lines = [
    `${r.path}`,
    `format        ${r.format}${r.fileType ? ` (${r.fileType})` : ""}`,
    `architecture  ${r.architecture}${r.name ? ` (${r.name})` : ""}`,
    `parameters    ${humanCount(r.parameters)} (${r.parameters})`,
    `context       ${opt(r.contextLength)}`,
    `layers        ${opt(r.blockCount)}, embedding ${opt(r.embeddingLength)}, heads ${opt(r.heads)}${r.kvHeads !== undefined ? ` / ${r.kvHeads} kv` : ""}`,
    `tokenizer     ${r.tokenizer.kind ?? "none"}${r.tokenizer.vocabSize !== undefined ? `, ${r.tokenizer.vocabSize} tokens` : ""}${r.tokenizer.pre ? `, pre ${r.tokenizer.pre}` : ""}`,
    `chat template ${r.chatTemplate ? "yes" : "no"}`,
    `tensor data   ${humanBytes(r.tensorBytes)} in a ${humanBytes(r.fileBytes)} file`,
    "tensor types:",
    ...r.tensorTypes.map(
      (t) =>
        `  ${t.type.padEnd(6)} ${String(t.tensors).padStart(5)} tensors ${humanCount(t.parameters).padStart(8)} params ${humanBytes(t.bytes).padStart(10)}`,
    ),
  ];
  if (r.tensors) {
    lines.push("tensors:");
    for (const t of r.tensors)
      lines.push(`  ${t.name.padEnd(40)} ${t.type.padEnd(6)} [${t.shape.join(", ")}] ${humanBytes(t.bytes)}`);
  }
  return lines.join("\n");
}

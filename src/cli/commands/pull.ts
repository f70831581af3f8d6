// `infuse pull MODEL`: resolve a model reference, downloading hub models into the cache.
import { resolveModel, type ResolvedModel } from "../../hub/resolve.js";
import type { RegisterCommand } from "../runtime.js";

export const registerPull: RegisterCommand = (program, run) => {
  program
    .command("pull")
    .argument("<model>", "hf:owner/repo[@revision][/file] or a local path")
    .description("download a model from the hub (or mirror) into the cache and print where it is")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse pull hf:ggml-org/models/tinyllamas/stories260K.gguf\n" +
        "  infuse pull hf:sentence-transformers/all-MiniLM-L6-v2\n" +
        "  HF_ENDPOINT=http://127.0.0.1:8080 infuse pull hf:me/my-model@v2 --json\n" +
        "\nAn interrupted download resumes where it stopped on the next pull.",
    )
    .action(
      run(async (rt, model: string) => {
        const config = await rt.config();
        const progress = rt.out.progress();
        let resolved: ResolvedModel;
        try {
          resolved = await resolveModel(model, { config, signal: rt.signal, onProgress: progress });
        } finally {
          progress.done();
        }
        rt.out.result(resolved, (r: ResolvedModel) => `${r.kind === "gguf" ? "GGUF" : "model folder"}: ${r.path}`);
      }),
    );
};

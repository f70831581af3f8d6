// `infuse serve`: the OpenAI-compatible API, the /api/ routes and the web UI on one port. Settings:
// the config's `serve` section < flags, one schema (server/options.ts). Runs until Ctrl-C.
import { configSection } from "../../core/config.js";
import { SERVE_FLAG_FIELDS, ServeOptionsSchema } from "../../server/options.js";
import type { RegisterCommand } from "../runtime.js";
import { cliFlags, flagOptions, flagValues } from "../schema-flags.js";

const FIELD_FLAGS = cliFlags(SERVE_FLAG_FIELDS);

export const registerServe: RegisterCommand = (program, run) => {
  const cmd = program.command("serve").description("serve an OpenAI-compatible API, the /api/ routes and the web UI");
  for (const o of flagOptions(FIELD_FLAGS)) cmd.addOption(o);
  cmd
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse serve --model engine:./model.gguf --embedder hash        # then open http://127.0.0.1:8080\n" +
        "  infuse serve --model ./model.gguf --model rag:handbook --port 9000\n" +
        "  INFUSE_API_KEY=secret infuse serve --host 0.0.0.0 --cors https://app.example.com\n" +
        "\nClients use it as an OpenAI endpoint: base URL http://127.0.0.1:8080/v1, the key (any text when none is set).\n" +
        "Binding anything but 127.0.0.1 needs --api-key or INFUSE_API_KEY. See docs/serving.md.",
    )
    .action(
      run(async (rt, flags: Record<string, unknown>) => {
        const config = await rt.config();
        const fromConfig = (configSection(config, "serve", ServeOptionsSchema.partial()) ?? {}) as Record<
          string,
          unknown
        >;
        const { startServer } = await import("../../server/server.js");
        const server = await startServer({
          config,
          options: { ...fromConfig, ...flagValues(flags, FIELD_FLAGS) },
          log: (m) => rt.out.warn(m),
        });
        const served = server.context.models.served.map((m) => m.id);
        rt.out.result({ url: server.url, models: served, auth: server.context.apiKey !== undefined }, () =>
          [
            `infuse is serving on ${server.url}  (web UI: ${server.url}/, OpenAI base URL: ${server.url}/v1)`,
            `models: ${served.join(", ") || "(none: pass --model REF)"}`,
            server.context.apiKey !== undefined ? "auth: Bearer key required" : "auth: none (loopback only)",
            "Ctrl-C stops it.",
          ].join("\n"),
        );
        await new Promise<void>((resolve) => {
          if (rt.signal.aborted) resolve();
          rt.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        await server.close();
      }),
    );
};

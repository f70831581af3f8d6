// `infuse doctor`: report the runtime, the native parts and the folders infuse uses.
import { runDoctor, type DoctorReport } from "../../core/doctor.js";
import { InfuseError } from "../../core/errors.js";
import { humanBytes } from "../output.js";
import type { RegisterCommand } from "../runtime.js";

export const registerDoctor: RegisterCommand = (program, run) => {
  program
    .command("doctor")
    .description("check the runtime, native parts (onnxruntime, llama.cpp, LanceDB), cache and config")
    .addHelpText("after", "\nExamples:\n  infuse doctor\n  infuse doctor --json")
    .action(
      run(async (rt) => {
        const report = await runDoctor(await rt.config());
        rt.out.result(report, renderDoctor);
        if (!report.ok) {
          const failed = report.native.filter((n) => !n.ok).map((n) => n.name);
          throw new InfuseError("doctor.native_missing", `native parts failed to load: ${failed.join(", ")}`, {
            kind: "internal",
            hint: "reinstall with `npm install`; for llama.cpp run `npx --no node-llama-cpp source build` to build it from the bundled source",
          });
        }
      }),
    );
};

function renderDoctor(r: DoctorReport): string {
  const mark = (ok: boolean) => (ok ? "ok  " : "FAIL");
  const lines = [
    `infuse ${r.infuse}`,
    `runtime   node ${r.runtime.node}, ${r.runtime.platform}/${r.runtime.arch}, ${r.runtime.cpus} cores, ${r.runtime.memoryGiB} GiB`,
    "native parts:",
    ...r.native.map(
      (n) => `  ${mark(n.ok)} ${n.name.padEnd(18)} ${(n.version ?? "not installed").padEnd(9)} ${n.detail}`,
    ),
    `config    ${r.config.file ?? "(none: defaults)"}`,
    `cache     ${r.cache.dir} ${r.cache.exists ? `(${r.cache.files} files, ${humanBytes(r.cache.bytes)})` : "(empty)"}`,
    `data      ${r.data.dir}${r.data.exists ? "" : " (not created yet)"}`,
    `hub       ${r.hub.endpoint}${r.hub.token ? " (token set)" : ""}${r.hub.offline ? " (offline)" : ""}`,
  ];
  return lines.join("\n");
}

// node-llama-cpp always runs its prebuilt binary: infuse's runtime never asks for a build from source,
// and a prebuilt binary that cannot be used is a llama.no_binary InfuseError, not a silent cmake build.
import { NoBinaryFoundError } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { InfuseError } from "../../src/core/errors.js";
import { loadLlama, openLlamaRuntime } from "../../src/rag/llm/llama-runtime.js";

describe("llama.cpp runtime", () => {
  it("loads the prebuilt binary, never a local build", async () => {
    const llama = await loadLlama();
    expect(llama.buildType).toBe("prebuilt");
  });

  it("a prebuilt binary that does not fit is an InfuseError and nothing is built", async () => {
    // Asking for a prebuilt binary made with a cmake option no prebuilt one has: node-llama-cpp finds
    // none, and with build "never" it must give up instead of compiling one (it would with "auto").
    const err = await openLlamaRuntime({
      cmakeOptions: { INFUSE_TEST_NO_SUCH_BUILD: "1" },
      existingPrebuiltBinaryMustMatchBuildOptions: true,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfuseError);
    const e = err as InfuseError;
    expect(e.code).toBe("llama.no_binary");
    expect(e.message).toContain("never builds it from source");
    expect(e.hint).toContain("npm install");
    // node-llama-cpp's own "no binary and not allowed to build" error, not a failed or finished build
    expect(e.cause).toBeInstanceOf(NoBinaryFoundError);
  });
});

// Commands load on demand: the named command's module alone (so `infuse tune` carries no RAG stack),
// every command for help, no command or an unknown name.
import { describe, expect, it } from "vitest";
import { COMMANDS, commandsFor } from "../../src/cli/commands/index.js";

const all = Object.keys(COMMANDS).length;

describe("commandsFor", () => {
  it("loads only the named command, after any global flags", async () => {
    const tune = await COMMANDS["tune"]!();
    expect(await commandsFor(["node", "infuse", "tune", "m.gguf"])).toEqual([tune]);
    expect(await commandsFor(["node", "infuse", "-q", "--json", "-c", "x.json", "tune"])).toEqual([tune]);
    expect(await commandsFor(["node", "infuse", "--config", "tune", "ask", "q"])).toEqual([await COMMANDS["ask"]!()]);
  });

  it("loads every command for help, no command, or a name that is not one", async () => {
    for (const argv of [
      ["node", "infuse"],
      ["node", "infuse", "--help"],
      ["node", "infuse", "help", "tune"],
      ["node", "infuse", "nosuch"],
    ])
      expect(await commandsFor(argv)).toHaveLength(all);
    expect(all).toBeGreaterThanOrEqual(11);
  });
});

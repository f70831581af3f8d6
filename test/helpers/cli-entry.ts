// Entry used by tests to run the CLI from TypeScript source (bin/infuse.js runs the build).
import { main } from "../../src/cli/main.js";

process.exit(await main(process.argv));

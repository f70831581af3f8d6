// `infuse chat`: a multi-turn conversation with a collection on stdin/stdout. Follow-ups are
// rewritten to stand alone before retrieval. One JSON line per turn with --json.
import readline from "node:readline";
import { ChatSession, type ChatTurn } from "../../rag/pipeline/chat.js";
import { askBody } from "../../rag/pipeline/ask.js";
import type { RegisterCommand } from "../runtime.js";
import { addAskOptions, answerStream, askSetup, renderAnswer, warnInvalidCitations, type AskFlags } from "./ask.js";

export const registerChat: RegisterCommand = (program, run) => {
  addAskOptions(program.command("chat"))
    .description("chat with a collection: multi-turn, follow-up questions rewritten to stand alone")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  infuse chat --collection handbook\n" +
        "  infuse chat --collection handbook --llm ollama:llama3.2\n" +
        '  printf "How long must passwords be?\\nAnd where are they stored?\\n" | infuse chat --collection handbook --json\n' +
        "\nType a question per line; an empty line or /exit (or Ctrl-D) ends the chat.",
    )
    .action(
      run(async (rt, flags: AskFlags) => {
        const options = await askSetup(rt, flags);
        const session = await ChatSession.open(options);
        const interactive = process.stdin.isTTY === true && !rt.out.json;
        const lines = readline.createInterface({ input: process.stdin, terminal: interactive });
        try {
          if (interactive) process.stdout.write(`chatting with "${options.collection}" (empty line or /exit ends)\n> `);
          for await (const line of lines) {
            const question = line.trim();
            if (question === "" || question === "/exit") break;
            const stream = answerStream(rt);
            const turn = await session.ask(question, { signal: rt.signal, ...stream.options });
            stream.end();
            warnInvalidCitations(rt, turn);
            rt.out.result(
              rt.out.json ? { ...askBody(turn), question, rewrite: turn.rewrite } : turn,
              (t: ChatTurn) =>
                `${t.standalone ? `(searched: ${t.standalone})\n` : ""}${renderAnswer(t, stream.streamed)}\n`,
            );
            if (interactive) process.stdout.write("> ");
          }
        } finally {
          lines.close();
          await session.close();
          await options.dispose();
        }
      }),
    );
};

// The fixed parity string set: hand-written cases (English, Vietnamese, Chinese, code, emoji,
// whitespace runs, the empty string) plus lines drawn in file order from the shared fixtures.
import { readFileSync } from "node:fs";
import { fixture } from "../helpers/fixtures.js";

const HAND_WRITTEN = [
  "",
  " ",
  "  ",
  "\n",
  "\n\n\n",
  "\t",
  " \t \n ",
  "a",
  "A",
  "Hello",
  " Hello",
  "  Hello",
  "Hello world",
  "Hello  world",
  "Hello world!",
  "Hello, world! How are you?",
  "Once upon a time, there was a little girl named Lily.",
  "She loved to play outside in the park with her friends.",
  "The quick brown fox jumps over the lazy dog.",
  "I can't believe it's not butter! We'll see, they'd say, you're right.",
  "HELLO WORLD IN CAPITALS",
  "MiXeD CaSe WoRdS",
  "numbers 0 1 12 123 1234 12345 3.14159 1,000,000",
  "2026-11-23T11:22:49Z",
  "email@example.com https://example.org/path?q=1&r=2#frag",
  "C:\\Users\\name\\file.txt",
  "trailing spaces   ",
  "   leading spaces",
  "tabs\tbetween\twords",
  "line one\nline two\r\nline three",
  "multiple\n\n\nnewlines",
  "punctuation: ;:!?.,-_()[]{}<>\"'`~@#$%^&*+=|/\\",
  "quotes “smart” and ‘single’ — dashes – and … ellipsis",
  "Xin chào thế giới",
  "Tiếng Việt có dấu: ă â đ ê ô ơ ư",
  "Hôm nay trời đẹp quá, chúng ta đi chơi nhé!",
  "Người Việt Nam rất thân thiện và hiếu khách.",
  "Phở bò, bánh mì, bún chả, gỏi cuốn.",
  "TRƯỜNG ĐẠI HỌC QUỐC GIA HÀ NỘI",
  "Cà phê sữa đá",
  "nghiêng ngả, chuyện trò, khuỷu tay, quyển sách",
  "你好",
  "你好，世界！",
  "我爱自然语言处理。",
  "北京是中国的首都。",
  "机器学习和深度学习",
  "日本語のテキストも少し",
  "한국어 텍스트",
  "Русский текст",
  "Ελληνικά",
  "עברית",
  "العربية",
  "हिन्दी",
  "ภาษาไทย",
  "emoji 😀",
  "😀😃😄😁",
  "👍🏽 thumbs up with skin tone",
  "👨‍👩‍👧‍👦 family",
  "🇻🇳 flag",
  "❤️ heart",
  "mixed English 和中文 và tiếng Việt 😀",
  "function add(a, b) {\n  return a + b;\n}",
  "const x: number = 42; // comment",
  "def f(x):\n    return x ** 2\n",
  "if (a && b || !c) { x += 1; }",
  "for i in range(10):\n\tprint(i)",
  "<html><body><p>Hello</p></body></html>",
  '{"key": "value", "list": [1, 2, 3]}',
  "SELECT * FROM users WHERE id = 1;",
  "x = [i*i for i in range(100) if i % 2 == 0]",
  "    indented four",
  "        indented eight",
  "a\u00a0b non-breaking space",
  "zero\u200bwidth",
  "combining e\u0301 vs é",
  "ﬁ ligature",
  "ＡＢＣ fullwidth",
  "x".repeat(64),
  "ab".repeat(40),
  "The end.",
  "<s>",
  "</s>",
  "<unk>",
  "[CLS] [SEP] [MASK]",
  "<|start_story|>Once upon a time<|end_story|>",
  "‍",
  "\u0000null",
  "\u0007bell",
  "$$$",
  "...",
  "!!!???",
  "----",
  "____",
  "a.b.c",
  "e.g. i.e. etc.",
  "Mr. Smith went to Washington.",
  "It's 5 o'clock.",
];

function lines(file: string, count: number, pick: (row: unknown) => string): string[] {
  const text = readFileSync(fixture(file), "utf8");
  const rows: unknown[] = file.endsWith(".json")
    ? (JSON.parse(text) as unknown[])
    : text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
  return rows.slice(0, count).map((r) => pick(r).slice(0, 300));
}

/** At least 200 strings, fixed by the fixtures' contents. */
export function parityStrings(): string[] {
  return [
    ...HAND_WRITTEN,
    ...lines("datasets/alpaca/alpaca_data_1k.json", 40, (r) => {
      const x = r as { instruction: string; output: string };
      return `${x.instruction}\n${x.output}`;
    }),
    ...lines("datasets/vi-alpaca/vi_alpaca_reduced_1.jsonl", 40, (r) => {
      const x = r as { prompt: string; response: string };
      return `${x.prompt}\n${x.response}`;
    }),
    ...lines("datasets/scifact/queries.jsonl", 20, (r) => (r as { text: string }).text),
    ...lines("datasets/vi-lima-gpt4/vi_lima_gpt4_1030.jsonl", 10, (r) =>
      (r as { response: string[] }).response.join("\n"),
    ),
  ];
}

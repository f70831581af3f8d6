// Types for wink-porter2-stemmer (the package ships none): one function from a word to its Porter2 stem.
declare module "wink-porter2-stemmer" {
  export default function stem(word: string): string;
}

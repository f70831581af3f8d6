// The InfuseError a promise rejects with (the test fails if it resolves or rejects with anything else).
import { expect } from "vitest";
import { InfuseError } from "../../src/core/errors.js";

export async function infuseErrorOf(p: Promise<unknown>): Promise<InfuseError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InfuseError);
  return e as InfuseError;
}

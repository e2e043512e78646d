import { HandoverError } from "../domain/errors.js";

/** The HandoverError a call was refused with; anything else (success, another error) fails the test. */
export async function refusalOf(call: Promise<unknown>): Promise<HandoverError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof HandoverError) return error;
    throw error;
  }
  throw new Error("expected the call to be refused with a HandoverError, but it succeeded");
}

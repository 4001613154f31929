/** The error a promise rejects with; fails the test when it resolves instead. */
export async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail, it succeeded');
}

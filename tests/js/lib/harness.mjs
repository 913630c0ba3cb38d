// The suite's harness: checks are registered with `check(name, fn)` and run one after another
// by `run(context)`. A check's name states the rule it holds the server to; the check passes when
// `fn(context)` resolves and fails when it throws (or takes longer than CHECK_TIMEOUT_MS). Every
// check runs, whatever the earlier ones did; each prints `ok: NAME` or `FAILED: NAME` with the
// reason, and the last line is the summary, `oauth4webapi: N passed, N failed`.

const CHECK_TIMEOUT_MS = 20_000;

const registered = [];

/** Registers a check: `name` states the rule, `fn(context)` throws when it does not hold. */
export function check(name, fn) {
  if (registered.some((existing) => existing.name === name)) {
    throw new Error(`two checks are named ${JSON.stringify(name)}`);
  }
  registered.push({ name, fn });
}

/** Throws `what` (with `detail` shown as JSON) unless `condition` holds. */
export function expect(condition, what, detail) {
  if (!condition) {
    const shown = detail === undefined ? "" : `: ${show(detail)}`;
    throw new Error(`${what}${shown}`);
  }
}

/** Throws unless `actual` equals `expected` (compared as JSON). */
export function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/**
 * Awaits `promise`, which must reject; returns the error after checking it with `accept(error)`
 * (which returns true for the expected error). A resolved promise or another error fails.
 */
export async function rejects(promise, accept, what) {
  let error;
  try {
    const value = await promise;
    throw new Error(`${what}: it succeeded instead, with ${show(value)}`);
  } catch (caught) {
    error = caught;
  }
  if (error instanceof Error && error.message.startsWith(`${what}: it succeeded instead`)) {
    throw error;
  }
  if (!accept(error)) {
    throw new Error(`${what}: it failed otherwise: ${describe(error)}`);
  }
  return error;
}

function show(value) {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 600 ? `${text.slice(0, 600)}…` : text;
  } catch {
    return String(value);
  }
}

/** An error as one line: its class, code, message, and an OAuth error body when it has one. */
export function describe(error) {
  if (!(error instanceof Error)) {
    return show(error);
  }
  const parts = [`${error.name}${error.code ? ` [${error.code}]` : ""}: ${error.message}`];
  if (error.status !== undefined) parts.push(`status ${error.status}`);
  if (error.error !== undefined) parts.push(`error ${error.error}`);
  if (error.error_description !== undefined) parts.push(`(${error.error_description})`);
  if (error.cause !== undefined && !(error.cause instanceof Error)) parts.push(`cause ${show(error.cause)}`);
  return parts.join(" ");
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs the registered checks whose name contains `filter` (all without one), in the order they
 * were registered, each given `context`. Returns the counts; prints the summary as its last line.
 */
export async function run(context, filter = "") {
  let passed = 0;
  let failed = 0;
  const started = performance.now();
  for (const { name, fn } of registered) {
    if (filter && !name.includes(filter)) {
      continue;
    }
    try {
      await withTimeout(Promise.resolve().then(() => fn(context)), CHECK_TIMEOUT_MS);
      passed += 1;
      console.log(`ok: ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`FAILED: ${name}`);
      console.log(`  ${describe(error)}`);
      if (process.env.VERBOSE && error instanceof Error) {
        console.log(error.stack);
      }
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${passed + failed} checks in ${seconds} s`);
  console.log(`oauth4webapi: ${passed} passed, ${failed} failed`);
  return { passed, failed };
}

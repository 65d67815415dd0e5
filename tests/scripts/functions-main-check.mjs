// Runs the operator's Edge Functions main service (reconciler/src/workloads/functions-main.ts,
// or the copy the reconciler rendered into its ConfigMap) in Node, which has the same
// WebCrypto, Request and Response the edge-runtime gives it, so its JWT checks run for real.
//
// Usage: node functions-main-check.mjs <main service file> < input.json
// Input: {env: {NAME: value}, cases: [{name, method, path, headers}]}.
// Output: {results: [{name, status, code, body, threw, created}]}: `code` is the
// `sb-error-code` header, `body` the parsed JSON body, `threw` the error when the handler threw
// (Deno.serve would answer 500), `created` the options given to
// EdgeRuntime.userWorkers.create (envVars reduced to their names), or null when no worker was
// asked for.
//
// The runtime's globals are a shim: `Deno.env` answers from the input's env, `Deno.serve`
// keeps the handler, and a user worker answers 200 with its servicePath.
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node functions-main-check.mjs <main service file> < input.json");
  process.exit(2);
}
const input = JSON.parse(readFileSync(0, "utf8"));
const env = input.env ?? {};

let handler = null;
let created = [];
globalThis.Deno = {
  env: {
    get: (name) => (Object.hasOwn(env, name) ? String(env[name]) : undefined),
    toObject: () => ({ ...env }),
  },
  serve: (h) => {
    handler = h;
  },
};
globalThis.EdgeRuntime = {
  userWorkers: {
    create: async (options) => {
      created.push(options);
      return {
        fetch: async () =>
          new Response(JSON.stringify({ servicePath: options.servicePath }), {
            status: 200,
            headers: { "Content-Type": "application/json" },
          }),
      };
    },
  },
};

// The file is imported as its text, whatever its extension: Node 20 refuses to import a `.ts`
// path, and the text is meant to be plain JavaScript (see its header).
const source = readFileSync(file, "utf8");
await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
if (typeof handler !== "function") {
  console.log(JSON.stringify({ error: "the main service did not call Deno.serve with a handler" }));
  process.exit(1);
}

const results = [];
for (const c of input.cases ?? []) {
  created = [];
  const req = new Request(`http://localhost:9000${c.path ?? "/"}`, {
    method: c.method ?? "GET",
    headers: c.headers ?? {},
  });
  const result = { name: c.name, status: null, code: null, body: null, threw: null, created: null };
  try {
    const res = await handler(req);
    result.status = res.status;
    result.code = res.headers.get("sb-error-code");
    const text = await res.text();
    try {
      result.body = JSON.parse(text);
    } catch {
      result.body = text;
    }
  } catch (e) {
    result.threw = String(e);
  }
  if (created.length > 0) {
    const { envVars, ...rest } = created[created.length - 1];
    result.created = { ...rest, envVarNames: (envVars ?? []).map(([k]) => k) };
  }
  results.push(result);
}
console.log(JSON.stringify({ results }));

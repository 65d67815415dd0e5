// The "main" service of supabase/edge-runtime as the operator ships it: it checks the caller's
// JWT when VERIFY_JWT is "true" and runs the function named by the first path segment from
// /home/deno/functions/<name> in a user worker. Written for the operator after the behaviour of
// upstream's docker/volumes/functions/main/index.ts (supabase/supabase, self-hosted docker
// setup): HS256 tokens are checked with JWT_SECRET, ES256/RS256 ones with the key set in
// SUPABASE_JWKS; OPTIONS (CORS preflight) is never checked; a worker gets 150 MB, a 60 s
// timeout and the runtime's env.
//
// Two departures, on purpose: verification uses the runtime's WebCrypto instead of importing a
// JWT library from jsr.io at start (a cluster without egress would have no main service), and
// with the new API keys a request whose Authorization carries no JWT is checked with the
// `sb-api-key` header, the internal JWT the gateway sets for an `sb_` key (Kong's functions-v1
// route, docker/volumes/api/kong.yml @ 1f37f2a9d82d).
//
// The text is plain JavaScript, with no type annotations, so that it is valid TypeScript and
// JavaScript both: tests/scripts/functions-main-check.mjs runs this very file in Node (v20, no
// type stripping) against tokens the operator's own Rust key code signs. Keeping the `.ts` name
// costs nothing: edge-runtime takes the first of index.{ts,tsx,js,mjs,jsx} in the
// --main-service directory and does not type-check the main worker, only user workers
// (supabase/edge-runtime crates/base/src/runtime/mod.rs @ v1.74.0: POTENTIAL_EXTS and
// `set_type_check_mode(is_user_worker.then_some(TypeCheckMode::Local))`). Keep it free of
// annotations and imports: the check fails to load it otherwise.

const FUNCTIONS = '/home/deno/functions'
const VERIFY_JWT = Deno.env.get('VERIFY_JWT') === 'true'
const JWT_SECRET = Deno.env.get('JWT_SECRET') ?? ''
const JWKS = readKeySet(Deno.env.get('SUPABASE_JWKS'))

function readKeySet(raw) {
  if (!raw) return []
  try {
    const parsed = JSON.parse(raw)
    return Array.isArray(parsed?.keys) ? parsed.keys : []
  } catch {
    return []
  }
}

function unauthorized(code, message) {
  return new Response(JSON.stringify({ code, message, msg: message }), {
    status: 401,
    headers: { 'Content-Type': 'application/json', 'sb-error-code': code },
  })
}

function base64url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4)
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
}

// The token to check: a bearer JWT, else (an `sb_` key or nothing in Authorization) the
// internal JWT the gateway put in `sb-api-key`.
function token(req) {
  const auth = req.headers.get('authorization')
  const parts = auth?.split(' ') ?? []
  if (parts.length === 2 && parts[0] === 'Bearer' && parts[1].split('.').length === 3) return parts[1]
  const internal = req.headers.get('sb-api-key')
  if (internal && internal.split('.').length === 3) return internal
  return null
}

async function keysFor(alg, kid) {
  if (alg === 'HS256') {
    if (!JWT_SECRET) return []
    const raw = new TextEncoder().encode(JWT_SECRET)
    return [await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])]
  }
  const params = alg === 'ES256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const kty = alg === 'ES256' ? 'EC' : 'RSA'
  const out = []
  for (const jwk of JWKS) {
    if (jwk.kty !== kty || (kid && jwk.kid && jwk.kid !== kid)) continue
    const { d: _private, ...pub } = jwk
    try {
      out.push(await crypto.subtle.importKey('jwk', pub, params, false, ['verify']))
    } catch {
      // A key the runtime cannot import verifies nothing.
    }
  }
  return out
}

// null when the token is valid, else the failure to answer with.
async function verify(jwt) {
  const [head, body, signature] = jwt.split('.')
  const json = (part) => JSON.parse(new TextDecoder().decode(base64url(part)))
  const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
  let header
  let claims
  let sig
  // Every part decoded here: `atob` throws on a character outside base64, and a header of
  // `null` has no `alg` to read; either would escape as a 500 instead of a 401.
  try {
    header = json(head)
    claims = json(body)
    sig = base64url(signature)
  } catch {
    return unauthorized('UNAUTHORIZED_INVALID_JWT_FORMAT', 'Invalid JWT format')
  }
  if (!isObject(header) || !isObject(claims)) {
    return unauthorized('UNAUTHORIZED_INVALID_JWT_FORMAT', 'Invalid JWT format')
  }
  const alg = header.alg ?? ''
  if (!['HS256', 'ES256', 'RS256'].includes(alg)) {
    return unauthorized('UNAUTHORIZED_UNSUPPORTED_TOKEN_ALGORITHM', `Unsupported JWT algorithm ${alg}`)
  }
  const code = alg === 'HS256' ? 'UNAUTHORIZED_LEGACY_JWT' : 'UNAUTHORIZED_ASYMMETRIC_JWT'
  const data = new TextEncoder().encode(`${head}.${body}`)
  const algorithm = alg === 'HS256'
    ? 'HMAC'
    : alg === 'ES256'
    ? { name: 'ECDSA', hash: 'SHA-256' }
    : 'RSASSA-PKCS1-v1_5'
  let valid = false
  for (const key of await keysFor(alg, header.kid)) {
    if (await crypto.subtle.verify(algorithm, key, sig, data)) {
      valid = true
      break
    }
  }
  const now = Math.floor(Date.now() / 1000)
  // A time claim that is not a number is refused, as a JWT library would (RFC 7519: NumericDate).
  const expired = claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp <= now)
  const early = claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now)
  if (!valid || expired || early) {
    return unauthorized(code, 'Invalid JWT')
  }
  return null
}

Deno.serve(async (req) => {
  if (req.method !== 'OPTIONS' && VERIFY_JWT) {
    const jwt = token(req)
    if (!jwt) return unauthorized('UNAUTHORIZED_NO_AUTH_HEADER', 'Missing authorization header')
    // Whatever else goes wrong checking it is the token's fault, answered as upstream does.
    let failure
    try {
      failure = await verify(jwt)
    } catch {
      failure = unauthorized('UNAUTHORIZED_INVALID_JWT_FORMAT', 'Invalid JWT format')
    }
    if (failure) return failure
  }
  const name = new URL(req.url).pathname.split('/')[1]
  if (!name) {
    return new Response(JSON.stringify({ msg: 'missing function name in request' }), {
      status: 400,
      headers: { 'Content-Type': 'application/json' },
    })
  }
  try {
    const worker = await EdgeRuntime.userWorkers.create({
      servicePath: `${FUNCTIONS}/${name}`,
      memoryLimitMb: 150,
      workerTimeoutMs: 60 * 1000,
      noModuleCache: false,
      importMapPath: null,
      envVars: Object.entries(Deno.env.toObject()),
    })
    return await worker.fetch(req)
  } catch (e) {
    return new Response(JSON.stringify({ msg: String(e) }), {
      status: 500,
      headers: { 'Content-Type': 'application/json' },
    })
  }
})

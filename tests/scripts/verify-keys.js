// A second, independent check of the keys the operator makes, with Node's built-in
// crypto only (no npm packages): the same primitives upstream's generator uses
// (supabase/supabase docker/utils/add-new-auth-keys.sh @ 12b126dc86a5949262fed769510e08197b9c27b9).
//
// Reads JSON on stdin: {privateSet, publicSet, kid, jwtSecret, anonJwt, serviceJwt,
// publishableKey, secretKey}. Prints JSON: {failures: [...], nodeSigned: {anon, serviceRole}}
// where nodeSigned are internal JWTs Node signs with the private set's signing key, for
// the Rust side to verify in turn. Exits 1 when any check failed.
"use strict";
const crypto = require("crypto");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};
const b64url = (buf) => Buffer.from(buf).toString("base64url");
const FIVE_YEARS = 5 * 365 * 24 * 3600;

// The public set: a JWK set object whose EC keys Node imports as public keys and whose
// oct key is the JWT secret's raw bytes.
const publicSet = JSON.parse(input.publicSet);
check(publicSet && Array.isArray(publicSet.keys) && !Array.isArray(publicSet), "public set is {keys: [...]}");
const publicKeys = new Map();
let octSeen = false;
for (const jwk of publicSet.keys || []) {
  if (jwk.kty === "oct") {
    octSeen = true;
    const key = crypto.createSecretKey(Buffer.from(jwk.k, "base64url"));
    check(key.export().equals(Buffer.from(input.jwtSecret)), "oct key is the secret's raw bytes");
    check(jwk.alg === "HS256" && jwk.kid === undefined, "oct key: alg HS256, no kid");
    continue;
  }
  check(!("d" in jwk), "public key has no d");
  check(JSON.stringify(jwk.key_ops) === '["verify"]', "public key_ops is [verify]");
  const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
  check(key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails.namedCurve === "prime256v1", "EC key on P-256");
  check(!publicKeys.has(jwk.kid), "kids unique");
  publicKeys.set(jwk.kid, key);
}
check(octSeen, "public set holds the oct key");

// The private set: an array; its EC key imports as a private key whose public part is
// the public set's key of the same kid.
const privateSet = JSON.parse(input.privateSet);
check(Array.isArray(privateSet), "private set is an array");
const signers = privateSet.filter((k) => Array.isArray(k.key_ops) && k.key_ops.includes("sign"));
check(signers.length === 1, "exactly one signing key");
const signer = signers[0] || {};
check(signer.kid === input.kid && signer.alg === "ES256" && signer.use === "sig", "signer: kid, ES256, sig");
check(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(signer.kid || ""), "kid is a UUIDv4");
const privateKey = crypto.createPrivateKey({ key: signer, format: "jwk" });
const derived = crypto.createPublicKey(privateKey).export({ format: "jwk" });
const published = publicKeys.get(input.kid);
check(published !== undefined, "signer's kid is in the public set");
if (published) {
  const p = published.export({ format: "jwk" });
  check(p.x === derived.x && p.y === derived.y, "d belongs to the published x and y");
}
check(
  privateSet.some((k) => k.kty === "oct" && k.k === b64url(Buffer.from(input.jwtSecret))),
  "private set holds the oct key"
);

// The internal JWTs: ES256 in JWS form, verified with the public set by kid.
for (const [token, role] of [[input.anonJwt, "anon"], [input.serviceJwt, "service_role"]]) {
  const parts = token.split(".");
  check(parts.length === 3, `${role} JWT has three parts`);
  const header = JSON.parse(Buffer.from(parts[0], "base64url"));
  const claims = JSON.parse(Buffer.from(parts[1], "base64url"));
  check(header.alg === "ES256" && header.typ === "JWT" && header.kid === input.kid, `${role} JWT header`);
  const key = publicKeys.get(header.kid);
  const ok =
    key !== undefined &&
    crypto.verify(
      "SHA256",
      Buffer.from(parts[0] + "." + parts[1]),
      { key, dsaEncoding: "ieee-p1363" },
      Buffer.from(parts[2], "base64url")
    );
  check(ok, `${role} JWT signature verifies with the public set`);
  check(claims.role === role && claims.iss === "supabase", `${role} JWT claims`);
  check(claims.exp - claims.iat === FIVE_YEARS && claims.exp > Date.now() / 1000, `${role} JWT lifetime`);
}

// The API keys: prefix, length, and the checksum recomputed.
for (const [key, prefix, length] of [
  [input.publishableKey, "sb_publishable_", 46],
  [input.secretKey, "sb_secret_", 41],
]) {
  check(key.startsWith(prefix) && key.length === length, `${prefix} key: prefix and length`);
  const intermediate = key.slice(0, length - 9);
  const sum = crypto.createHash("sha256").update("supabase-self-hosted|" + intermediate).digest("base64url").slice(0, 8);
  check(key === intermediate + "_" + sum, `${prefix} key: checksum`);
}

// Node signs internal JWTs with the private set's key, as upstream's signES256 does.
const sign = (role) => {
  const iat = Math.floor(Date.now() / 1000);
  const data =
    b64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid: input.kid })) +
    "." +
    b64url(JSON.stringify({ role, iss: "supabase", iat, exp: iat + FIVE_YEARS }));
  const sig = crypto.sign("SHA256", Buffer.from(data), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return data + "." + b64url(sig);
};

process.stdout.write(JSON.stringify({ failures, nodeSigned: { anon: sign("anon"), serviceRole: sign("service_role") } }));
process.exit(failures.length === 0 ? 0 : 1);

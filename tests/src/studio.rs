//! Studio's connection to postgres-meta, made as Studio makes it, so a test can check the
//! env the reconciler gives Studio against the real postgres-meta without Studio's image.
//!
//! Studio (supabase/supabase @ 123dc6bf0007ba46550ade46ba1a871cbce4839c) reads its env in
//! `apps/studio/lib/api/self-hosted/constants.ts` (each with its fallback), builds
//! `postgresql://${user}:${POSTGRES_PASSWORD}@${host}:${port}/${db}${sslParam}` in `util.ts`
//! `getConnectionString` (no encoding), and `encryptString` encrypts it with crypto-js
//! `AES.encrypt(text, PG_META_CRYPTO_KEY).toString()`; the result goes to postgres-meta as
//! the `x-connection-encrypted` header. The same crypto-js as postgres-meta's own
//! (tests/meta/node_modules, a dependency of the pinned package) does the encryption here.

use std::process::Command;

/// The script: Studio's fallbacks, connection string and encryption, from `process.env`.
const SCRIPT: &str = r#"
const CryptoJS = require('crypto-js');
const e = process.env;
const key = e.PG_META_CRYPTO_KEY || 'SAMPLE_KEY';
const port = parseInt(e.POSTGRES_PORT || '5432', 10);
const host = e.POSTGRES_HOST || 'db';
const db = e.POSTGRES_DB || 'postgres';
const password = e.POSTGRES_PASSWORD || 'postgres';
const user = e.POSTGRES_USER_READ_WRITE || 'supabase_admin';
const ssl = e.POSTGRES_SSL ? `?sslmode=${e.POSTGRES_SSL}` : '';
process.stdout.write(CryptoJS.AES.encrypt(`postgresql://${user}:${password}@${host}:${port}/${db}${ssl}`, key).toString());
"#;

/// The `x-connection-encrypted` header Studio sends, given Studio's resolved env.
pub fn encrypted_connection(env: &[(String, String)]) -> String {
    let out = Command::new("node")
        .args(["-e", SCRIPT])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NODE_PATH", crate::repo_path("tests/meta/node_modules"))
        .envs(env.iter().cloned())
        .output()
        .expect("node runs");
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("base64 text")
}

//! The new keys the operator makes, checked by a second, independent implementation:
//! Node's built-in crypto (`tests/scripts/verify-keys.js`, no npm packages), the
//! primitives upstream's generator itself uses. Node imports the public set as JWKs,
//! verifies the internal ES256 JWTs with it by kid, recomputes the API key checksums,
//! and signs JWTs of its own that the operator's verifier must accept. No cluster.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use crds::jwt::Role;
use crds::keys::api_keys::{self, ApiKeyKind};
use crds::keys::internal_jwt;
use crds::keys::set::{Expect, check_private};
use crds::keys::{Generated, generate};
use serde_json::{Value, json};

const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn input(g: &Generated) -> Value {
    json!({
        "privateSet": g.private_set,
        "publicSet": g.public_set,
        "kid": g.kid,
        "jwtSecret": SECRET,
        "anonJwt": g.anon_jwt,
        "serviceJwt": g.service_jwt,
        "publishableKey": g.publishable_key,
        "secretKey": g.secret_key,
    })
}

/// Runs the Node check; returns whether it passed and what it printed.
fn node(input: &Value) -> (bool, Value) {
    let script = harness::repo_path("tests/scripts/verify-keys.js");
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (v20 or later) runs the independent key check; install Node.js");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("node printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), printed)
}

#[test]
fn generated_keys_pass_nodes_checks_and_nodes_tokens_pass_ours() {
    // Several sets: coordinates and signatures with leading zero bytes, and high or low
    // `s`, turn up at random.
    for _ in 0..8 {
        let g = generate(SECRET, now()).unwrap();
        let (ok, printed) = node(&input(&g));
        assert!(ok, "Node found: {}", printed["failures"]);
        assert_eq!(printed["failures"], json!([]));
        let (set, problems) = check_private(&g.private_set, &Expect { signer: Some(&g.kid), jwt_secret: Some(SECRET) });
        assert!(problems.is_empty(), "{problems:?}");
        for (name, role) in [("anon", Role::Anon), ("serviceRole", Role::ServiceRole)] {
            let token = printed["nodeSigned"][name].as_str().unwrap();
            let verified = internal_jwt::verify(&set, token, role, now());
            assert_eq!(verified.map(|v| v.kid), Ok(g.kid.clone()), "Node's {name} JWT");
        }
    }
}

#[test]
fn node_refuses_a_forged_token_a_bad_checksum_and_a_foreign_key() {
    let g = generate(SECRET, now()).unwrap();
    let mut bad = input(&g);
    // The anon JWT's claims swapped for the service role's, signature kept.
    let (header, rest) = g.anon_jwt.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let (_, service_rest) = g.service_jwt.split_once('.').unwrap();
    let (service_claims, _) = service_rest.split_once('.').unwrap();
    bad["anonJwt"] = json!(format!("{header}.{service_claims}.{signature}"));
    // A checksum one character off.
    let mut key = g.publishable_key.clone();
    let last = if key.ends_with('A') { 'B' } else { 'A' };
    key.pop();
    key.push(last);
    assert!(!api_keys::checksum_ok(ApiKeyKind::Publishable, &key));
    bad["publishableKey"] = json!(key);
    // The public set of another generation: d no longer matches.
    bad["publicSet"] = json!(generate(SECRET, now()).unwrap().public_set);
    let (ok, printed) = node(&bad);
    assert!(!ok);
    let failures: Vec<&str> = printed["failures"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for expected in [
        "signer's kid is in the public set",
        "anon JWT signature verifies with the public set",
        "sb_publishable_ key: checksum",
    ] {
        assert!(failures.contains(&expected), "{expected:?} not in {failures:?}");
    }
}

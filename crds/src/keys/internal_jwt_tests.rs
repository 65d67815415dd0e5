//! `testdata/tokens.json` holds JWTs signed once with Node's crypto the way upstream's
//! `signES256` does (`crypto.sign("SHA256", data, {key, dsaEncoding: "ieee-p1363"})`),
//! with the fixture keys, expiring in 2100; one ES256 token has a high `s` (Node does
//! not normalise it) and one a low `s`, since verifiers differ on that.

use super::*;
use crate::keys::set::{Expect, check_private};
use serde_json::{Value, json};

const KID_A: &str = "8a6c5bd3-3f0e-4c1c-9a57-0d5f0a1b2c3d";
const NOW: i64 = 1_800_000_100;

fn tokens() -> Value {
    serde_json::from_str(include_str!("testdata/tokens.json")).unwrap_or_default()
}

fn token(name: &str) -> String {
    tokens()[name].as_str().unwrap_or_default().to_string()
}

fn fixture_set() -> PrivateSet {
    let mut ec: Value = serde_json::from_str(include_str!("testdata/ec-a.json")).unwrap_or_default();
    ec["kid"] = json!(KID_A);
    ec["alg"] = json!("ES256");
    ec["key_ops"] = json!(["sign", "verify"]);
    let mut rsa: Value = serde_json::from_str(include_str!("testdata/rsa-2048.json")).unwrap_or_default();
    rsa["kid"] = json!("rsa-key-1");
    rsa["alg"] = json!("RS256");
    rsa["key_ops"] = json!(["verify"]);
    let (set, problems) = check_private(&json!([ec, rsa]).to_string(), &Expect::default());
    assert!(problems.is_empty(), "{problems:?}");
    set
}

#[test]
fn tokens_signed_by_node_verify_by_kid() {
    let set = fixture_set();
    for (name, role) in [
        ("es256_anon_low_s", Role::Anon),
        ("es256_anon_high_s", Role::Anon),
        ("es256_service", Role::ServiceRole),
        ("rs256_anon", Role::Anon),
    ] {
        let verified = verify(&set, &token(name), role, NOW);
        assert!(verified.is_ok(), "{name}: {verified:?}");
    }
    let v = verify(&set, &token("rs256_anon"), Role::Anon, NOW).ok();
    assert_eq!(v.map(|v| v.kid), Some("rsa-key-1".to_string()));
}

#[test]
fn signed_tokens_have_upstreams_header_and_claims_and_verify() {
    let key = jwk::generate_ec();
    let kid = key.kid.clone().unwrap_or_default();
    let t = sign(&key, Role::ServiceRole, NOW, NOW + LIFETIME_SECONDS).unwrap_or_default();
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = String::from_utf8(unb64(parts[0]).unwrap_or_default()).unwrap_or_default();
    assert_eq!(header, format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#));
    let claims = String::from_utf8(unb64(parts[1]).unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        claims,
        format!(r#"{{"role":"service_role","iss":"supabase","iat":{NOW},"exp":{}}}"#, NOW + 157_680_000)
    );
    // JWS ECDSA: r||s, 64 bytes, not DER.
    assert_eq!(unb64(parts[2]).map(|s| s.len()), Some(64));
    let set = PrivateSet::from_keys(vec![key]);
    assert_eq!(verify(&set, &t, Role::ServiceRole, NOW).map(|v| v.kid), Ok(kid));
}

#[test]
fn an_rsa_signer_signs_rs256() {
    let set = fixture_set();
    let rsa = set.find("rsa-key-1").cloned().unwrap_or_default();
    let t = sign(&rsa, Role::Anon, NOW, NOW + 60).unwrap_or_default();
    assert!(t.starts_with(&b64(br#"{"alg":"RS256","typ":"JWT","kid":"rsa-key-1"}"#)));
    assert!(verify(&set, &t, Role::Anon, NOW).is_ok());
}

#[test]
fn each_problem_is_named() {
    let set = fixture_set();
    let anon = token("es256_anon_low_s");
    assert_eq!(
        verify(&set, &anon, Role::ServiceRole, NOW),
        Err(KeyProblem::WrongRole { found: "anon".into(), expected: "service_role" }.into())
    );
    assert!(matches!(verify(&set, &anon, Role::Anon, 4_102_444_800), Err(TokenProblem::Jwt(KeyProblem::Expired(_)))));
    // Another set: the kid is unknown.
    let other = PrivateSet::from_keys(vec![jwk::generate_ec()]);
    assert_eq!(verify(&other, &anon, Role::Anon, NOW), Err(TokenProblem::UnknownKid(KID_A.into())));
    // The same kid on another key: the signature does not verify.
    let mut impostor = jwk::generate_ec();
    impostor.kid = Some(KID_A.into());
    let impostors = PrivateSet::from_keys(vec![impostor]);
    assert_eq!(verify(&impostors, &anon, Role::Anon, NOW), Err(TokenProblem::BadSignature(KID_A.into())));
    // A tampered claim.
    let (h, rest) = anon.split_once('.').unwrap_or_default();
    let (_, sig) = rest.split_once('.').unwrap_or_default();
    let forged = format!("{h}.{}.{sig}", b64(br#"{"role":"service_role","iss":"supabase","exp":4102444800}"#));
    assert_eq!(verify(&set, &forged, Role::ServiceRole, NOW), Err(TokenProblem::BadSignature(KID_A.into())));
    // A legacy HS256 key, no kid.
    let legacy = jwt::sign("a-jwt-secret-of-at-least-32-characters!!", Role::Anon, "supabase", NOW, NOW + 60)
        .unwrap_or_default();
    assert_eq!(verify(&set, &legacy, Role::Anon, NOW), Err(TokenProblem::Alg("HS256".into())));
    let no_kid = format!("{}.{}", b64(br#"{"alg":"ES256","typ":"JWT"}"#), rest);
    assert_eq!(verify(&set, &no_kid, Role::Anon, NOW), Err(TokenProblem::NoKid));
    let rs_as_es = format!("{}.{}", b64(br#"{"alg":"RS256","kid":"8a6c5bd3-3f0e-4c1c-9a57-0d5f0a1b2c3d"}"#), rest);
    assert!(matches!(verify(&set, &rs_as_es, Role::Anon, NOW), Err(TokenProblem::AlgMismatch { .. })));
    assert!(matches!(verify(&set, "not.a-token", Role::Anon, NOW), Err(TokenProblem::Jwt(KeyProblem::Malformed(_)))));
    for problem in [verify(&impostors, &anon, Role::Anon, NOW), verify(&set, &forged, Role::ServiceRole, NOW)] {
        let shown = problem.err().map(|p| p.to_string()).unwrap_or_default();
        assert!(!shown.is_empty() && !shown.contains(&anon) && !shown.contains(sig), "{shown}");
    }
}

//! The key fixtures in `testdata/` were made once with Node's crypto, not with the code
//! under test: `crypto.generateKeyPairSync("ec", {namedCurve: "prime256v1"})` and
//! `("rsa", {modulusLength: 2048 | 1024})`, each `privateKey.export({format: "jwk"})`,
//! as upstream's generator converts its openssl key. They sign nothing real.

use super::*;
use serde_json::{Value, json};

const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";
const KID_A: &str = "8a6c5bd3-3f0e-4c1c-9a57-0d5f0a1b2c3d";
const KID_B: &str = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";
const KID_R: &str = "rsa-key-1";

fn fixture(name: &str) -> Value {
    let text = match name {
        "ec-a" => include_str!("testdata/ec-a.json"),
        "ec-b" => include_str!("testdata/ec-b.json"),
        "rsa-2048" => include_str!("testdata/rsa-2048.json"),
        _ => include_str!("testdata/rsa-1024.json"),
    };
    serde_json::from_str(text).unwrap_or_default()
}

/// A private EC JWK the way upstream's generator dresses Node's export.
fn ec(name: &str, kid: &str, ops: &[&str]) -> Value {
    let mut k = fixture(name);
    k["kid"] = json!(kid);
    k["use"] = json!("sig");
    k["key_ops"] = json!(ops);
    k["alg"] = json!("ES256");
    k["ext"] = json!(true);
    k
}

fn rsa(name: &str, kid: &str, ops: &[&str]) -> Value {
    let mut k = fixture(name);
    k["kid"] = json!(kid);
    k["use"] = json!("sig");
    k["key_ops"] = json!(ops);
    k["alg"] = json!("RS256");
    k
}

/// The oct key written out by hand: `Buffer.from(secret).toString("base64url")`.
fn oct_of(secret: &str) -> Value {
    use base64::Engine;
    json!({"kty": "oct", "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret), "alg": "HS256"})
}

fn upstream() -> Vec<Value> {
    vec![ec("ec-a", KID_A, &["sign", "verify"]), oct_of(SECRET)]
}

fn expect() -> Expect<'static> {
    Expect { signer: None, jwt_secret: Some(SECRET) }
}

fn problems(keys: &[Value], expect: &Expect<'_>) -> Vec<Problem> {
    check_private(&json!(keys).to_string(), expect).1.into_iter().map(|p| p.problem).collect()
}

fn public_of(keys: &[Value]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            if let Some(m) = k.as_object_mut() {
                for private in ["d", "p", "q", "dp", "dq", "qi"] {
                    m.remove(private);
                }
                if m.get("kty") != Some(&json!("oct")) {
                    m.insert("key_ops".into(), json!(["verify"]));
                }
            }
            k
        })
        .collect();
    json!({ "keys": keys })
}

#[test]
fn an_upstream_shaped_set_passes_and_signs_with_its_ec_key() {
    let keys = upstream();
    let (set, found) = check_private(&json!(keys).to_string(), &expect());
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(set.kids(), [KID_A]);
    assert_eq!(set.signer(None).and_then(|k| k.kid.as_deref()), Some(KID_A));
    assert_eq!(set.signer(Some(KID_A)).map(|k| k.kty.as_str()), Some("EC"));
    assert!(set.oct().is_some());
    assert!(check_public(&set, &public_of(&keys).to_string()).is_empty());
    // The public set this code writes is the one built by hand above.
    let written: Value = serde_json::from_str(&set.public_json()).unwrap_or_default();
    assert_eq!(written, public_of(&keys));
    let private: Value = serde_json::from_str(&set.to_json()).unwrap_or_default();
    assert_eq!(private, json!(keys));
}

#[test]
fn rsa_keys_are_checked_like_ec_keys() {
    let keys = vec![rsa("rsa-2048", KID_R, &["sign", "verify"]), oct_of(SECRET)];
    assert_eq!(problems(&keys, &expect()), []);
    // Without the primes, they are recovered from n, e and d.
    let mut bare = rsa("rsa-2048", KID_R, &["sign", "verify"]);
    for m in ["p", "q", "dp", "dq", "qi"] {
        bare.as_object_mut().map(|o| o.remove(m));
    }
    assert_eq!(problems(&[bare], &expect()), []);

    let mut wrong_d = rsa("rsa-2048", KID_R, &["sign", "verify"]);
    wrong_d["d"] = rsa("rsa-1024", KID_R, &[])["d"].clone();
    assert!(matches!(problems(&[wrong_d], &expect()).as_slice(), [Problem::RsaMismatch(_)]));

    let mut wrong_dp = rsa("rsa-2048", KID_R, &["sign", "verify"]);
    wrong_dp["dp"] = wrong_dp["dq"].clone();
    assert_eq!(problems(&[wrong_dp], &expect()), [Problem::RsaCrt("dp")]);

    assert_eq!(problems(&[rsa("rsa-1024", KID_R, &["sign"])], &expect()), [Problem::RsaSmall(1024)]);

    let mut as_ec = rsa("rsa-2048", KID_R, &["sign"]);
    as_ec["alg"] = json!("ES256");
    assert_eq!(
        problems(&[as_ec], &expect()),
        [Problem::Alg { kty: "RSA".into(), found: Some("ES256".into()), expected: "RS256" }]
    );
}

#[test]
fn each_broken_ec_key_is_named() {
    let signer = |k: Value| vec![k, oct_of(SECRET)];
    let mut other_d = ec("ec-a", KID_A, &["sign"]);
    other_d["d"] = fixture("ec-b")["d"].clone();
    assert_eq!(problems(&signer(other_d), &expect()), [Problem::PrivateMismatch]);

    let mut off_curve = ec("ec-a", KID_A, &["sign"]);
    off_curve["y"] = fixture("ec-b")["y"].clone();
    assert_eq!(problems(&signer(off_curve), &expect()), [Problem::NotOnCurve]);

    let mut p384 = ec("ec-a", KID_A, &["sign"]);
    p384["crv"] = json!("P-384");
    assert_eq!(problems(&signer(p384), &expect()), [Problem::Curve("P-384".into())]);

    let mut short_x = ec("ec-a", KID_A, &["sign"]);
    short_x["x"] = json!("AQID");
    assert_eq!(problems(&signer(short_x), &expect()), [Problem::Encoding("x")]);

    let mut no_alg = ec("ec-a", KID_A, &["sign"]);
    no_alg.as_object_mut().map(|o| o.remove("alg"));
    assert_eq!(
        problems(&signer(no_alg), &expect()),
        [Problem::Alg { kty: "EC".into(), found: None, expected: "ES256" }]
    );

    let mut rs = ec("ec-a", KID_A, &["sign"]);
    rs["alg"] = json!("RS256");
    rs["use"] = json!("enc");
    assert_eq!(
        problems(&signer(rs), &expect()),
        [Problem::Alg { kty: "EC".into(), found: Some("RS256".into()), expected: "ES256" }, Problem::Use("enc".into())]
    );

    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "ed"});
    assert_eq!(problems(&[okp, ec("ec-a", KID_A, &["sign"])], &expect()), [Problem::Kty("OKP".into())]);
}

#[test]
fn key_ids_are_present_on_asymmetric_keys_and_unique() {
    let mut no_kid = ec("ec-a", KID_A, &["sign"]);
    no_kid.as_object_mut().map(|o| o.remove("kid"));
    // Without a kid the EC key also shares Auth's "" slot with the oct key.
    assert_eq!(problems(&[no_kid, oct_of(SECRET)], &expect()), [Problem::NoKid, Problem::DuplicateNoKid(0)]);

    let twice = [ec("ec-a", KID_A, &["sign"]), ec("ec-b", KID_A, &["verify"])];
    assert_eq!(problems(&twice, &expect()), [Problem::DuplicateKid(0)]);

    let two_octs = [ec("ec-a", KID_A, &["sign"]), oct_of(SECRET), oct_of(SECRET)];
    assert_eq!(problems(&two_octs, &expect()), [Problem::DuplicateNoKid(1)]);
}

#[test]
fn exactly_one_signer_or_a_named_one() {
    let both_sign = [ec("ec-a", KID_A, &["sign", "verify"]), ec("ec-b", KID_B, &["sign", "verify"])];
    assert_eq!(problems(&both_sign, &expect()), [Problem::ManySigners(vec![KID_A.into(), KID_B.into()])]);
    let named = Expect { signer: Some(KID_B), ..expect() };
    assert_eq!(problems(&both_sign, &named), []);
    let (set, _) = check_private(&json!(both_sign).to_string(), &named);
    assert_eq!(set.signer(Some(KID_B)).and_then(|k| k.kid.as_deref()), Some(KID_B));

    let none_sign = [ec("ec-a", KID_A, &["verify"]), oct_of(SECRET)];
    assert_eq!(problems(&none_sign, &expect()), [Problem::NoSigner]);
    let unknown = Expect { signer: Some("nope"), ..expect() };
    assert_eq!(problems(&none_sign, &unknown), [Problem::SignerNotFound("nope".into())]);

    let mut oct_signs = oct_of(SECRET);
    oct_signs["key_ops"] = json!(["sign"]);
    assert_eq!(problems(&[ec("ec-a", KID_A, &["verify"]), oct_signs], &expect()), [Problem::SignerSymmetric]);

    let mut public_only = ec("ec-a", KID_A, &["sign", "verify"]);
    public_only.as_object_mut().map(|o| o.remove("d"));
    assert_eq!(problems(&[public_only.clone()], &expect()), [Problem::SignerPublicOnly]);
    // A key without d may stay in the set to verify while another signs.
    assert_eq!(
        problems(&[public_only, ec("ec-b", KID_B, &["verify"])], &Expect { signer: Some(KID_B), ..expect() }),
        []
    );
}

#[test]
fn the_oct_key_must_be_the_projects_secret_as_raw_bytes() {
    let keys = [ec("ec-a", KID_A, &["sign"]), oct_of("another-secret-of-at-least-32-characters")];
    assert_eq!(problems(&keys, &expect()), [Problem::OctMismatch(false)]);
    // A base64 secret whose decoding went into k: the likely mistake is named.
    let secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let decoded = json!({"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", "alg": "HS256"});
    let keys = [ec("ec-a", KID_A, &["sign"]), decoded];
    assert_eq!(problems(&keys, &Expect { jwt_secret: Some(secret), ..expect() }), [Problem::OctMismatch(true)]);
    // Unknown secret (the webhook names that separately): no comparison.
    assert_eq!(problems(&keys, &Expect { jwt_secret: None, ..expect() }), []);
}

#[test]
fn sets_of_the_wrong_shape_are_named() {
    let object = json!({"keys": upstream()}).to_string();
    let found: Vec<Problem> = check_private(&object, &expect()).1.into_iter().map(|p| p.problem).collect();
    assert!(matches!(found.as_slice(), [Problem::NotAnArray(_)]), "{found:?}");
    let found = check_private("[]", &expect()).1;
    assert_eq!(found.first().map(|p| &p.problem), Some(&Problem::Empty));
    let found = check_private(r#"[{"kty":"EC","d":"c2VjcmV0"#, &expect()).1;
    assert!(matches!(found.as_slice(), [SetProblem { problem: Problem::NotJson { category: "truncated", .. }, .. }]));
    assert_eq!(problems(&[json!("key")], &expect()), [Problem::Shape(jwk::ShapeProblem::NotAnObject("a string"))]);

    let (set, _) = check_private(&json!(upstream()).to_string(), &expect());
    let array = json!(upstream()).to_string();
    let found: Vec<Problem> = check_public(&set, &array).into_iter().map(|p| p.problem).collect();
    assert_eq!(found, [Problem::NotAKeySet("an array")]);
}

#[test]
fn a_public_set_must_be_the_public_part_of_the_private_set() {
    let keys = upstream();
    let (set, _) = check_private(&json!(keys).to_string(), &expect());
    let mut public = public_of(&keys);
    // The order of keys and of members does not matter.
    if let Some(k) = public["keys"].as_array_mut() {
        k.reverse();
    }
    assert_eq!(check_public(&set, &public.to_string()), []);

    let public_problems = |public: &Value| -> Vec<Problem> {
        check_public(&set, &public.to_string()).into_iter().map(|p| p.problem).collect()
    };
    let mut with_d = public_of(&keys);
    with_d["keys"][0]["d"] = keys[0]["d"].clone();
    assert_eq!(public_problems(&with_d), [Problem::PrivateInPublic(vec!["d"])]);

    let mut other_point = public_of(&keys);
    other_point["keys"][0]["x"] = fixture("ec-b")["x"].clone();
    assert_eq!(public_problems(&other_point), [Problem::DiffersFromPrivate]);

    let mut other_secret = public_of(&keys);
    other_secret["keys"][1] = oct_of("another-secret-of-at-least-32-characters");
    assert_eq!(public_problems(&other_secret), [Problem::DiffersFromPrivate]);

    let mut missing = public_of(&keys);
    if let Some(k) = missing["keys"].as_array_mut() {
        k.remove(1);
    }
    assert_eq!(public_problems(&missing), [Problem::MissingFromPublic("the oct key".into())]);

    let mut extra = public_of(&keys);
    if let Some(k) = extra["keys"].as_array_mut() {
        k.push(public_of(&[ec("ec-b", KID_B, &[])])["keys"][0].clone());
    }
    assert_eq!(public_problems(&extra), [Problem::NotInPrivate]);
}

#[test]
fn messages_name_keys_and_members_never_key_material() {
    let mut wrong = ec("ec-a", KID_A, &["sign"]);
    wrong["d"] = fixture("ec-b")["d"].clone();
    let mut rsa_bad = rsa("rsa-2048", KID_R, &["sign"]);
    rsa_bad["d"] = fixture("rsa-1024")["d"].clone();
    let keys = [wrong, rsa_bad, oct_of("another-secret-of-at-least-32-characters"), json!({"kty": "EC", "d": 5})];
    let text = json!(keys).to_string();
    let found = check_private(&text, &expect()).1;
    assert!(found.len() >= 4, "{found:?}");
    let shown = found.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(shown.contains(&format!("key 0 (kid {KID_A:?}): d does not belong to x and y")), "{shown}");
    let material: Vec<String> = keys
        .iter()
        .flat_map(|k| {
            ["d", "p", "q", "dp", "dq", "qi", "k", "x", "y", "n"].map(|m| k[m].as_str().unwrap_or("").to_string())
        })
        .filter(|v| v.len() > 8)
        .chain([SECRET.to_string(), "another-secret-of-at-least-32-characters".into()])
        .collect();
    for m in &material {
        assert!(!shown.contains(m.as_str()), "key material in: {shown}");
    }
    // A syntax error inside a value does not quote it either.
    let broken = format!("[{{\"kty\":\"EC\",\"d\":\"{}\" x}}]", fixture("ec-a")["d"].as_str().unwrap_or(""));
    let shown = check_private(&broken, &expect()).1.iter().map(ToString::to_string).collect::<String>();
    assert!(shown.contains("syntax error") && !shown.contains(fixture("ec-a")["d"].as_str().unwrap_or("-")));
}

use super::super::fixtures::{Case, KID, PUBLISHABLE, SECRET, SECRET_API_KEY, key, new_key_sets};
use crds::project::KeyScheme;
use serde_json::json;

const EC_A: &str = include_str!("../../../crds/src/keys/testdata/ec-a.json");
const EC_B: &str = include_str!("../../../crds/src/keys/testdata/ec-b.json");
const KID_B: &str = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";
const NOW: i64 = super::super::fixtures::NOW;

fn tokens() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../crds/src/keys/testdata/tokens.json")).unwrap()
}

fn token(name: &str) -> String {
    tokens()[name].as_str().unwrap().to_string()
}

/// Every value of the new-keys fixture that must never appear in a message.
fn material(case: &Case) -> Vec<String> {
    let mut all = vec![SECRET.to_string(), PUBLISHABLE.into(), SECRET_API_KEY.into()];
    for name in ["es256_anon_high_s", "es256_service", "rs256_anon"] {
        all.push(token(name));
    }
    for jwk in [EC_A, EC_B] {
        let v: serde_json::Value = serde_json::from_str(jwk).unwrap();
        all.push(v["d"].as_str().unwrap().to_string());
    }
    if let Some(super::super::Lookup::Found(data)) = case.secrets.get("api") {
        for k in ["publishableKey", "secretKey", "anonJwt", "serviceJwt"] {
            if let Some(v) = data.get(k) {
                all.push(String::from_utf8_lossy(v).trim().to_string());
            }
        }
    }
    all.retain(|v| v.len() >= 12);
    all
}

fn assert_no_material(case: &Case) {
    let report = case.run();
    let shown = format!("{}\n{}", case.messages(), report.warnings.join("\n"));
    for m in material(case) {
        assert!(!shown.contains(&m), "key material in: {shown}");
    }
}

fn set_jwt(case: Case, f: impl FnOnce(&mut crds::project::JwtSpec)) -> Case {
    case.with(|s| f(s.jwt.as_mut().unwrap()))
}

#[test]
fn new_keys_made_the_upstream_way_pass_without_warnings() {
    let case = Case::new_keys();
    let report = case.run();
    assert!(report.causes.is_empty(), "{}", case.messages());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // Without signingKeyId the key marked "sign" signs: the same answer.
    let case = set_jwt(Case::new_keys(), |j| j.signing_key_id = None);
    assert!(case.fields().is_empty(), "{}", case.messages());
}

#[test]
fn a_legacy_project_is_warned_and_may_not_reference_new_keys() {
    let case = set_jwt(Case::valid(), |j| j.keys = Some(KeyScheme::Legacy));
    let report = case.run();
    assert!(report.causes.is_empty());
    assert!(report.warnings.iter().any(|w| w.starts_with("spec.jwt.keys: this project uses the legacy keys only")));
    let case = set_jwt(Case::new_keys(), |j| j.keys = Some(KeyScheme::Legacy));
    let fields = case.fields();
    for f in ["spec.jwt.signingKeysRef", "spec.jwt.apiKeysRef", "spec.jwt.signingKeyId"] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    assert!(case.messages().contains("Forbidden: only with spec.jwt.keys: both"), "{}", case.messages());
}

#[test]
fn references_must_fit_together() {
    let case = set_jwt(Case::valid(), |j| j.signing_key_id = Some(KID.into()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeyId"]);
    assert!(case.messages().contains("only with spec.jwt.signingKeysRef"));
    let case = set_jwt(Case::new_keys(), |j| j.signing_key_id = Some(" ".into()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeyId"]);

    let case = set_jwt(Case::new_keys(), |j| j.api_keys_ref.as_mut().unwrap().service_jwt_key = None);
    assert_eq!(case.fields(), ["spec.jwt.apiKeysRef.serviceJwtKey"]);
    assert!(case.messages().contains("Required value"), "{}", case.messages());

    let case = set_jwt(Case::new_keys(), |j| {
        j.signing_keys_ref = None;
        j.signing_key_id = None;
    });
    assert_eq!(case.fields(), ["spec.jwt.apiKeysRef.anonJwtKey"]);
    assert!(case.messages().contains("signed by a key of the project's set"), "{}", case.messages());
    // Without internal JWTs, generated signing keys and referenced API keys go together.
    let case = set_jwt(case, |j| {
        let api = j.api_keys_ref.as_mut().unwrap();
        api.anon_jwt_key = None;
        api.service_jwt_key = None;
    });
    assert!(case.fields().is_empty(), "{}", case.messages());
}

#[test]
fn every_problem_of_the_keys_is_named_at_once() {
    let mut case = Case::new_keys();
    // d of another key, and the set written as the public set's object.
    let mut ec: serde_json::Value = serde_json::from_str(EC_A).unwrap();
    ec["d"] = serde_json::from_str::<serde_json::Value>(EC_B).unwrap()["d"].clone();
    let (private, _) = new_key_sets(&[(&ec.to_string(), KID, true)]);
    case.set_key("signing", "keys", Some(private.as_bytes()));
    case.set_key("api", "publishableKey", Some(b"sb_publishable_short"));
    case.set_key("api", "secretKey", Some(format!("{SECRET_API_KEY}\n").as_bytes()));
    assert_eq!(
        case.fields(),
        [
            "spec.jwt.signingKeysRef.keysKey",
            "spec.jwt.apiKeysRef.publishableKeyKey",
            "spec.jwt.apiKeysRef.secretKeyKey"
        ]
    );
    let m = case.messages();
    assert!(
        m.contains(&format!(
            "spec.jwt.signingKeysRef.keysKey: Invalid value: \"keys\": the signing keys in Secret \"signing\" (key \
             \"keys\"): key 0 (kid \"{KID}\"): d does not belong to x and y"
        )),
        "{m}"
    );
    assert!(m.contains("has 20 characters, must have 46"), "{m}");
    assert!(m.contains("trailing whitespace"), "{m}");
    assert_no_material(&case);

    let mut case = Case::new_keys();
    let object =
        json!({"keys": serde_json::from_str::<serde_json::Value>(&new_key_sets(&[(EC_A, KID, true)]).0).unwrap()});
    case.set_key("signing", "keys", Some(object.to_string().as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeysRef.keysKey"]);
    assert!(case.messages().contains("the private set is a JSON array"), "{}", case.messages());
}

#[test]
fn the_signer_is_named_or_unique() {
    let case = set_jwt(Case::new_keys(), |j| j.signing_key_id = Some("not-there".into()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeyId"]);
    assert!(case.messages().contains("no key in the set has kid \"not-there\""), "{}", case.messages());

    // Two keys marked to sign: only a named signer makes that a valid set.
    let mut case = set_jwt(Case::new_keys(), |j| j.signing_key_id = None);
    let (private, public) = new_key_sets(&[(EC_A, KID, true), (EC_B, KID_B, true)]);
    case.set_key("signing", "keys", Some(private.as_bytes()));
    case.set_key("signing", "jwks", Some(public.as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeysRef.keysKey"]);
    assert!(case.messages().contains("Auth accepts exactly one"), "{}", case.messages());
    let case = set_jwt(case, |j| j.signing_key_id = Some(KID.into()));
    assert!(case.fields().is_empty(), "{}", case.messages());
}

#[test]
fn the_oct_key_is_the_projects_secret() {
    let mut case = Case::new_keys();
    let (private, public) = new_key_sets(&[(EC_A, KID, true)]);
    let other = URL_SAFE_NO_PAD_ENCODE("another-secret-of-at-least-32-characters");
    let replace = |s: &str| s.replace(&URL_SAFE_NO_PAD_ENCODE(SECRET), &other);
    case.set_key("signing", "keys", Some(replace(&private).as_bytes()));
    case.set_key("signing", "jwks", Some(replace(&public).as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeysRef.keysKey"]);
    assert!(case.messages().contains("the oct key is not the project's JWT secret"), "{}", case.messages());

    // The legacy secret generated: an oct key in the user's set cannot be it.
    let case = set_jwt(Case::new_keys(), |j| j.secret_ref = None);
    assert_eq!(case.fields(), ["spec.jwt.signingKeysRef.keysKey"]);
    assert!(case.messages().contains("the project's JWT secret is generated"), "{}", case.messages());
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_ENCODE(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[test]
fn the_public_set_is_the_public_part_of_the_private_set() {
    let mut case = Case::new_keys();
    case.set_key("signing", "jwks", Some(new_key_sets(&[(EC_B, KID, true)]).1.as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.signingKeysRef.jwksKey"]);
    assert!(case.messages().contains("differs from the private set's key"), "{}", case.messages());
    let mut case = Case::new_keys();
    case.set_key("signing", "jwks", Some(new_key_sets(&[(EC_A, KID, true)]).0.as_bytes()));
    assert!(case.messages().contains("Realtime refuses an array"), "{}", case.messages());
    // Omitted, it is derived: nothing to check.
    let case = set_jwt(Case::new_keys(), |j| j.signing_keys_ref.as_mut().unwrap().jwks_key = None);
    assert!(case.fields().is_empty());
}

#[test]
fn api_keys_have_prefix_and_length_and_differ() {
    let mut case = Case::new_keys();
    case.set_key("api", "secretKey", Some(PUBLISHABLE.as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.apiKeysRef.secretKeyKey", "spec.jwt.apiKeysRef.secretKeyKey"]);
    let m = case.messages();
    assert!(
        m.contains("does not start with \"sb_secret_\"") && m.contains("must differ from the publishable key"),
        "{m}"
    );
    assert_no_material(&case);
}

#[test]
fn a_bad_checksum_is_only_a_warning() {
    let mut case = Case::new_keys();
    let wrong = PUBLISHABLE.replace("tExdzd7N", "tExdzd7M");
    case.set_key("api", "publishableKey", Some(wrong.as_bytes()));
    let report = case.run();
    assert!(report.causes.is_empty(), "{}", case.messages());
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with("spec.jwt.apiKeysRef.publishableKeyKey: the publishable key"));
    assert!(!report.warnings[0].contains(&wrong));
}

#[test]
fn internal_jwts_verify_against_the_set_with_their_roles() {
    let mut case = Case::new_keys();
    case.set_key("api", "anonJwt", Some(token("es256_service").as_bytes()));
    case.set_key("api", "serviceJwt", Some(token("rs256_anon").as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.apiKeysRef.anonJwtKey", "spec.jwt.apiKeysRef.serviceJwtKey"]);
    let m = case.messages();
    assert!(m.contains("has role \"service_role\", must be \"anon\""), "{m}");
    assert!(m.contains("names kid \"rsa-key-1\", which is not an EC or RSA key of the signing keys"), "{m}");
    assert_no_material(&case);

    let mut case = Case::new_keys();
    case.set_key("api", "anonJwt", Some(key("anon", "supabase", NOW + 86_400, SECRET.as_bytes()).as_bytes()));
    assert_eq!(case.fields(), ["spec.jwt.apiKeysRef.anonJwtKey"]);
    assert!(case.messages().contains("is signed with HS256, must be ES256 or RS256"), "{}", case.messages());
}

#[test]
fn internal_jwts_of_a_key_that_no_longer_signs_warn() {
    // Rotation under way: the old key verifies, the new one signs.
    let mut case = set_jwt(Case::new_keys(), |j| j.signing_key_id = Some(KID_B.into()));
    let (private, public) = new_key_sets(&[(EC_A, KID, false), (EC_B, KID_B, true)]);
    case.set_key("signing", "keys", Some(private.as_bytes()));
    case.set_key("signing", "jwks", Some(public.as_bytes()));
    let report = case.run();
    assert!(report.causes.is_empty(), "{}", case.messages());
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains(&format!("is signed by key {KID:?}, not by the signing key {KID_B:?}")));
}

#[test]
fn updates_that_drop_the_signer_or_the_new_keys_warn() {
    // The set loses the key that signed until now.
    let mut case = set_jwt(Case::new_keys(), |j| {
        j.signing_key_id = Some(KID_B.into());
        let api = j.api_keys_ref.as_mut().unwrap();
        api.anon_jwt_key = None;
        api.service_jwt_key = None;
    });
    case.old = Some(Case::new_keys().spec);
    let (private, public) = new_key_sets(&[(EC_B, KID_B, true)]);
    case.set_key("signing", "keys", Some(private.as_bytes()));
    case.set_key("signing", "jwks", Some(public.as_bytes()));
    let report = case.run();
    assert!(report.causes.is_empty(), "{}", case.messages());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains(&format!("key {KID:?}, which signed sessions until now, is no longer"))),
        "{:?}",
        report.warnings
    );
    // The signer switched, the old key kept: the rotation's middle step, no warning.
    let (private, public) = new_key_sets(&[(EC_A, KID, false), (EC_B, KID_B, true)]);
    case.set_key("signing", "keys", Some(private.as_bytes()));
    case.set_key("signing", "jwks", Some(public.as_bytes()));
    assert!(case.run().warnings.is_empty(), "{:?}", case.run().warnings);

    // Another Secret, the old signer unknown: replaced.
    let mut case = Case::new_keys();
    let mut old = Case::new_keys().spec;
    let jwt = old.jwt.as_mut().unwrap();
    jwt.signing_key_id = None;
    jwt.signing_keys_ref.as_mut().unwrap().name = "old-signing".into();
    case.old = Some(old.clone());
    case.spec.jwt.as_mut().unwrap().signing_key_id = None;
    assert!(case.run().warnings.iter().any(|w| w.starts_with("spec.jwt.signingKeysRef: the signing keys now come")));

    // Back to legacy.
    let mut case = set_jwt(Case::valid(), |j| j.keys = Some(KeyScheme::Legacy));
    case.old = Some(Case::valid().spec);
    assert!(case.run().warnings.iter().any(|w| w.starts_with("spec.jwt.keys: back to legacy")));

    // Turning the new keys on from legacy warns about nothing.
    let mut case = Case::new_keys();
    case.old = Some(set_jwt(Case::valid(), |j| j.keys = Some(KeyScheme::Legacy)).spec);
    assert!(case.run().warnings.is_empty(), "{:?}", case.run().warnings);
}

//! Rule 8: a user-supplied JWT secret is long enough, and the anon and service keys
//! verify with the raw bytes of that secret, carry the right role and have not expired.
//! Also the JWT warnings: keys near expiry, upstream's demo keys, a rotated secret.

use crds::jwt::{self, DEMO_ISSUER, MIN_SECRET_LEN, Role};
use crds::refs::{KeyRef, Value};

use super::field::{Cause, Rule, quoted};
use super::{Input, Report, secret_value};

/// Keys expiring sooner than this get a warning.
pub const EXPIRY_WARNING_SECONDS: i64 = 30 * 24 * 3600;

fn role_of(value: Value) -> Option<(Role, &'static str)> {
    match value {
        Value::AnonKey => Some((Role::Anon, "anon")),
        Value::ServiceKey => Some((Role::ServiceRole, "service")),
        _ => None,
    }
}

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], report: &mut Report) {
    let secret = refs
        .iter()
        .find(|r| r.value == Value::JwtSecret)
        .and_then(|r| secret_value(input, &r.secret, &r.key).map(|v| (r, v)));
    if let Some((r, value)) = secret {
        let len = value.chars().count();
        if len > 0 && len < MIN_SECRET_LEN {
            report.causes.push(Cause::invalid(
                Rule::Jwt,
                r.path,
                quoted(&r.key),
                format!(
                    "the JWT secret in Secret {:?} must be at least {MIN_SECRET_LEN} characters, has {len}",
                    r.secret
                ),
            ));
        }
    }
    for r in refs {
        let Some((role, label)) = role_of(r.value) else { continue };
        let (Some((_, secret)), Some(token)) = (secret, secret_value(input, &r.secret, &r.key)) else { continue };
        if token.trim().is_empty() {
            continue; // reported as empty by the Secrets rule
        }
        match super::verified::verify(secret, token.trim(), role, input.now) {
            Err(problem) => report.causes.push(Cause::invalid(
                Rule::Jwt,
                r.path,
                quoted(&r.key),
                format!("the {label} key in Secret {:?} {problem}", r.secret),
            )),
            Ok(claims) => {
                if claims.iss.as_deref() == Some(DEMO_ISSUER) {
                    if input.policy.allow_demo_keys {
                        report.warnings.push(format!(
                            "{}: the {label} key in Secret {:?} is one of upstream's public demo keys (iss: {DEMO_ISSUER}); \
                             anyone can sign tokens for this project",
                            r.path, r.secret
                        ));
                    } else {
                        report.causes.push(Cause::forbidden(
                            Rule::Policy,
                            r.path,
                            format!(
                                "the {label} key in Secret {:?} is one of upstream's public demo keys (iss: {DEMO_ISSUER}); \
                                 the platform policy does not allow them",
                                r.secret
                            ),
                        ));
                    }
                }
                if let Some(exp) = claims.exp
                    && exp - input.now < EXPIRY_WARNING_SECONDS
                {
                    report.warnings.push(format!(
                        "{}: the {label} key in Secret {:?} expires at {} (in {} days); issue new keys before then",
                        r.path,
                        r.secret,
                        jwt::format_time(exp),
                        (exp - input.now) / 86_400
                    ));
                }
            }
        }
    }
    rotation(input, &mut report.warnings);
}

/// A changed JWT secret reference on update signs every user out.
fn rotation(input: &Input<'_>, warnings: &mut Vec<String>) {
    let Some(old) = input.old else { return };
    let reference = |spec: &crds::SupabaseProjectSpec| {
        spec.jwt.as_ref().and_then(|j| j.secret_ref.as_ref()).map(|r| (r.name.clone(), r.secret_key.clone()))
    };
    if reference(old) != reference(input.spec) {
        warnings.push(
            "spec.jwt.secretRef: the JWT secret changes with this update; every signed-in user is signed out and \
             clients need the new anon key"
                .to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{Case, NOW, SECRET, hand_signed, key};
    use base64::Engine;

    #[test]
    fn keys_made_the_upstream_way_pass() {
        let case = Case::valid();
        assert!(case.fields().is_empty(), "{}", case.messages());
        assert!(case.run().warnings.is_empty(), "{:?}", case.run().warnings);
    }

    #[test]
    fn a_short_secret_is_refused() {
        let mut case = Case::valid();
        case.set_key("jwt", "secret", Some(b"too-short"));
        // The keys, signed with the long secret, no longer verify either.
        assert_eq!(
            case.fields(),
            ["spec.jwt.secretRef.secretKey", "spec.jwt.secretRef.anonKeyKey", "spec.jwt.secretRef.serviceKeyKey"]
        );
        assert!(case.messages().contains("must be at least 32 characters, has 9"), "{}", case.messages());
    }

    #[test]
    fn a_key_signed_with_the_decoded_secret_names_the_likely_cause() {
        let secret = base64::engine::general_purpose::STANDARD.encode("0123456789abcdef0123456789abcdef");
        let decoded = base64::engine::general_purpose::STANDARD.decode(&secret).unwrap();
        let mut case = Case::valid();
        case.set_key("jwt", "secret", Some(secret.as_bytes()));
        let anon = hand_signed(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &format!(r#"{{"role":"anon","iss":"supabase","exp":{}}}"#, NOW + 365 * 86400),
            &decoded,
        );
        let service = key("service_role", "supabase", NOW + 365 * 86400, secret.as_bytes());
        case.set_key("jwt", "anonKey", Some(anon.as_bytes()));
        case.set_key("jwt", "serviceKey", Some(service.as_bytes()));
        assert_eq!(case.fields(), ["spec.jwt.secretRef.anonKeyKey"]);
        assert!(case.messages().contains("base64-decoded secret"), "{}", case.messages());
    }

    #[test]
    fn wrong_role_expired_unsigned_asymmetric_and_garbage_keys_are_each_named() {
        let year = NOW + 365 * 86400;
        let cases: [(String, &str); 6] = [
            (key("service_role", "supabase", year, SECRET.as_bytes()), "has role \"service_role\", must be \"anon\""),
            (key("anon", "supabase", NOW - 60, SECRET.as_bytes()), "expired at 2027-01-15T07:59:00+00:00"),
            (key("anon", "supabase", year, b"some-other-secret-of-at-least-32-chars"), "signature does not verify"),
            (
                format!(
                    "{}.{}.",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"role":"anon"}"#)
                ),
                "is signed with none, must be HS256",
            ),
            (hand_signed(r#"{"alg":"RS256"}"#, r#"{"role":"anon"}"#, SECRET.as_bytes()), "is signed with RS256"),
            ("not-a-jwt".to_string(), "is not a well-formed JWT"),
        ];
        for (token, expected) in cases {
            let mut case = Case::valid();
            case.set_key("jwt", "anonKey", Some(token.as_bytes()));
            assert_eq!(case.fields(), ["spec.jwt.secretRef.anonKeyKey"], "{expected}");
            let m = case.messages();
            assert!(m.contains(expected), "{m} lacks {expected}");
            assert!(!m.contains(&token) && !m.contains(SECRET), "{m}");
        }
    }

    #[test]
    fn keys_near_expiry_and_demo_keys_warn_or_are_refused_by_policy() {
        let mut case = Case::valid();
        case.set_key("jwt", "anonKey", Some(key("anon", "supabase", NOW + 10 * 86400, SECRET.as_bytes()).as_bytes()));
        let report = case.run();
        assert!(report.causes.is_empty());
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("expires at") && report.warnings[0].contains("(in 10 days)"));

        let mut case = Case::valid();
        let demo = key("anon", "supabase-demo", NOW + 365 * 86400, SECRET.as_bytes());
        case.set_key("jwt", "anonKey", Some(demo.as_bytes()));
        let report = case.run();
        assert!(report.causes.is_empty() && report.warnings.iter().any(|w| w.contains("demo keys")));
        case.policy.allow_demo_keys = false;
        assert_eq!(case.fields(), ["spec.jwt.secretRef.anonKeyKey"]);
        assert!(case.messages().contains("Forbidden"), "{}", case.messages());
    }

    #[test]
    fn a_changed_secret_reference_warns_on_update() {
        let mut case = Case::valid();
        case.old = Some(case.spec.clone());
        assert!(case.run().warnings.is_empty());
        case.old.as_mut().unwrap().jwt.as_mut().unwrap().secret_ref.as_mut().unwrap().name = "old-jwt".into();
        let report = case.run();
        assert!(report.warnings.iter().any(|w| w.contains("signed out")), "{:?}", report.warnings);
    }
}

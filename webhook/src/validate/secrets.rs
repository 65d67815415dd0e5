//! Rule 6: every referenced Secret exists in the project's namespace and holds every
//! required key, non-empty (the rule is `crds::rules::secret_references`, which the
//! reconciler checks again; the wording is the webhook's). Rule 10: the generated-style secrets a user supplies have
//! the lengths their services need. Messages name Secrets and keys, never values.

use crds::refs::{KeyRef, Value};
use crds::rules::{self, Held, Problem};

use super::field::{Cause, Rule, quoted};
use super::{Input, Lookup, secret_value};

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], causes: &mut Vec<Cause>) {
    let held = |name: &str| match input.secrets.get(name) {
        None | Some(Lookup::Missing) => Held::Missing,
        Some(Lookup::Unavailable(reason)) => Held::Unreadable(reason),
        Some(Lookup::Found(data)) => Held::Found(data),
    };
    for f in rules::secret_references(refs, held) {
        let (r, field) = (f.reference, f.field);
        let cause = match f.problem {
            Problem::NoName => Cause::required(Rule::Secrets, field, "the name of a Secret in the project's namespace"),
            Problem::NotFound => Cause::not_found(
                Rule::Secrets,
                field,
                quoted(&r.secret),
                format!("no Secret of that name in namespace {:?}", input.namespace),
            ),
            Problem::Unreadable(reason) => Cause::unavailable(
                Rule::Secrets,
                field,
                format!(
                    "Secret {:?} could not be read ({reason}); the check was not done and is worth retrying",
                    r.secret
                ),
            ),
            Problem::NoKey => key(r, field, format!("Secret {:?} has no key {:?}", r.secret, r.key)),
            Problem::Empty => key(r, field, format!("key {:?} of Secret {:?} is empty", r.key, r.secret)),
            Problem::NotText => key(r, field, format!("key {:?} of Secret {:?} is not UTF-8 text", r.key, r.secret)),
        };
        causes.push(cause);
    }
    generated(input, refs, causes);
}

fn key(r: &KeyRef, field: impl Into<String>, problem: String) -> Cause {
    Cause::invalid(Rule::Secrets, field, quoted(&r.key), problem)
}

fn generated(input: &Input<'_>, refs: &[KeyRef], causes: &mut Vec<Cause>) {
    for r in refs {
        let Some(value) = secret_value(input, &r.secret, &r.key) else { continue };
        let len = value.chars().count();
        if len == 0 {
            continue; // reported as empty above
        }
        let problem = match r.value {
            Value::RealtimeDbEncKey if len != 16 => {
                format!("must be exactly 16 characters (Realtime's DB_ENC_KEY), has {len}")
            }
            Value::RealtimeSecretKeyBase if len < 64 => {
                format!("must be at least 64 characters (Realtime's SECRET_KEY_BASE), has {len}")
            }
            Value::MetaCryptoKey if len < 32 => {
                format!("must be at least 32 characters (postgres-meta's CRYPTO_KEY), has {len}")
            }
            _ => continue,
        };
        causes.push(Cause::invalid(
            Rule::Generated,
            r.path,
            quoted(&r.key),
            format!("the value of key {:?} in Secret {:?} {problem}", r.key, r.secret),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::Lookup;
    use super::super::fixtures::Case;

    #[test]
    fn every_referenced_secret_and_key_present_passes() {
        assert!(Case::valid().fields().is_empty(), "{}", Case::valid().messages());
    }

    #[test]
    fn a_missing_secret_is_named_once_at_its_name_field() {
        let mut case = Case::valid();
        case.secrets.insert("db".into(), Lookup::Missing);
        assert_eq!(case.fields(), ["spec.database.secretRef.name"]);
        assert!(case.messages().contains(r#"Not found: "db""#), "{}", case.messages());
    }

    #[test]
    fn missing_empty_and_binary_keys_are_named_at_their_key_field() {
        let mut case = Case::valid();
        case.set_key("db", "password", None);
        case.set_key("s3", "accessKeyId", Some(b"  "));
        case.set_key("smtp", "username", Some(&[0xff, 0xfe]));
        assert_eq!(
            case.fields(),
            [
                "spec.database.secretRef.passwordKey",
                "spec.storage.s3.secretRef.accessKeyIdKey",
                "spec.smtp.secretRef.usernameKey"
            ]
        );
        assert!(case.messages().contains(r#"Secret "db" has no key "password""#), "{}", case.messages());
    }

    #[test]
    fn studios_ai_key_is_checked_like_every_reference() {
        let case = Case::valid().with(|s| {
            let studio = s.components.get_or_insert_with(Default::default).studio.get_or_insert_with(Default::default);
            studio.ai_secret_ref =
                Some(crds::project::StudioAiSecretRef { name: "ai".into(), openai_api_key_key: Some("key".into()) });
        });
        let mut missing = case.clone();
        missing.secrets.insert("ai".into(), Lookup::Missing);
        assert_eq!(missing.fields(), ["spec.components.studio.aiSecretRef.name"]);
        let mut present = case;
        present.secrets.insert("ai".into(), super::super::fixtures::found(&[("key", b"sk-proj-1")]));
        assert!(present.fields().is_empty(), "{}", present.messages());
        present.set_key("ai", "key", None);
        assert_eq!(present.fields(), ["spec.components.studio.aiSecretRef.openaiApiKeyKey"]);
    }

    #[test]
    fn an_unreadable_secret_says_the_check_is_worth_retrying() {
        let mut case = Case::valid();
        case.secrets.insert("db".into(), Lookup::Unavailable("timeout".into()));
        let report = case.run();
        assert!(report.unavailable());
        assert!(case.messages().contains("worth retrying"), "{}", case.messages());
    }

    #[test]
    fn generated_style_secrets_have_their_lengths() {
        let mut case = Case::valid();
        case.set_key("realtime", "dbEncKey", Some(b"fifteen-chars!!"));
        case.set_key("realtime", "secretKeyBase", Some(&[b'x'; 63]));
        case.set_key("meta", "cryptoKey", Some(b"short"));
        assert_eq!(
            case.fields(),
            [
                "spec.components.realtime.secretRef.secretKeyBaseKey",
                "spec.components.realtime.secretRef.dbEncKeyKey",
                "spec.components.meta.secretRef.cryptoKeyKey"
            ]
        );
        let mut case = Case::valid();
        case.set_key("realtime", "dbEncKey", Some(b"seventeen-chars!!"));
        assert_eq!(case.fields(), ["spec.components.realtime.secretRef.dbEncKeyKey"]);
    }

    #[test]
    fn values_never_appear_in_messages() {
        let mut case = Case::valid();
        case.set_key("meta", "cryptoKey", Some(b"tiny-secret-value"));
        case.set_key("realtime", "dbEncKey", Some(b"another-secret-value"));
        let m = case.messages();
        assert!(!m.contains("tiny-secret-value") && !m.contains("another-secret-value"), "{m}");
    }
}

//! Rule 6: every referenced Secret exists in the project's namespace and holds every
//! required key, non-empty. Rule 10: the generated-style secrets a user supplies have
//! the lengths their services need. Messages name Secrets and keys, never values.

use std::collections::BTreeSet;

use crds::refs::{KeyRef, Value};

use super::field::{Cause, Rule, quoted};
use super::{Input, Lookup, secret_value};

/// The path of the `name` field next to a key field (`...secretRef.passwordKey` →
/// `...secretRef.name`).
pub(super) fn name_field(key_path: &str) -> String {
    match key_path.rsplit_once('.') {
        Some((parent, _)) => format!("{parent}.name"),
        None => key_path.to_string(),
    }
}

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], causes: &mut Vec<Cause>) {
    let mut reported = BTreeSet::new();
    for r in refs {
        // Only a problem needs the field's name; building it for every reference of
        // every review showed up in profiles.
        let field_of_name = || name_field(r.path);
        if r.secret.is_empty() {
            let name_field = field_of_name();
            if reported.insert(name_field.clone()) {
                causes.push(Cause::required(
                    Rule::Secrets,
                    name_field,
                    "the name of a Secret in the project's namespace",
                ));
            }
            continue;
        }
        match input.secrets.get(&r.secret) {
            None | Some(Lookup::Missing) => {
                let name_field = field_of_name();
                if reported.insert(name_field.clone()) {
                    causes.push(Cause::not_found(
                        Rule::Secrets,
                        name_field,
                        quoted(&r.secret),
                        format!("no Secret of that name in namespace {:?}", input.namespace),
                    ));
                }
            }
            Some(Lookup::Unavailable(reason)) => {
                let name_field = field_of_name();
                if reported.insert(name_field.clone()) {
                    causes.push(Cause::unavailable(
                        Rule::Secrets,
                        name_field,
                        format!(
                            "Secret {:?} could not be read ({reason}); the check was not done and is worth retrying",
                            r.secret
                        ),
                    ));
                }
            }
            Some(Lookup::Found(data)) => key(r, data.get(&r.key), causes),
        }
    }
    generated(input, refs, causes);
}

fn key(r: &KeyRef, value: Option<&[u8]>, causes: &mut Vec<Cause>) {
    let problem = match value {
        None => format!("Secret {:?} has no key {:?}", r.secret, r.key),
        Some(v) if v.iter().all(u8::is_ascii_whitespace) => {
            format!("key {:?} of Secret {:?} is empty", r.key, r.secret)
        }
        Some(v) if std::str::from_utf8(v).is_err() => {
            format!("key {:?} of Secret {:?} is not UTF-8 text", r.key, r.secret)
        }
        Some(_) => return,
    };
    causes.push(Cause::invalid(Rule::Secrets, r.path, quoted(&r.key), problem));
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

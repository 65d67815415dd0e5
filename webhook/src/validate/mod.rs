//! Validation: every rule as a pure function over the project, the Secrets it
//! references (read beforehand), the requester's access to them, the policy and the
//! clock. Every violation is collected, not just the first.

mod access;
mod autoscaling;
mod database;
pub mod env;
pub mod field;
mod functions;
mod gateway;
mod images;
mod imgproxy;
mod jwt;
mod keys;
mod keys_memo;
mod names;
mod release;
mod s3;
mod secrets;
mod urls;
mod verified;
mod volume;
mod warnings;
mod workloads;

use std::collections::BTreeMap;
use std::sync::Arc;

use crds::SupabaseProjectSpec;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

pub use field::{Cause, Kind, Rule};

use crate::policy::Policy;

/// A Secret's data, shared with the cache it came from: copying it out for every
/// review cost more than all the rules reading it. Two are equal when their data is;
/// `Debug` shows the keys, never a value.
#[derive(Clone)]
pub struct SecretData(Arc<Secret>);

impl PartialEq for SecretData {
    fn eq(&self, other: &SecretData) -> bool {
        self.0.data == other.0.data
    }
}

impl std::fmt::Debug for SecretData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.data.iter().flatten().map(|(k, _)| k)).finish()
    }
}

impl crds::rules::SecretKeys for SecretData {
    fn value(&self, key: &str) -> Option<&[u8]> {
        self.get(key)
    }
}

impl SecretData {
    /// The Secret as read.
    pub fn new(secret: Arc<Secret>) -> SecretData {
        SecretData(secret)
    }

    /// A Secret holding only `pairs`.
    pub fn of<K: Into<String>, V: Into<Vec<u8>>>(pairs: impl IntoIterator<Item = (K, V)>) -> SecretData {
        let data = pairs.into_iter().map(|(k, v)| (k.into(), ByteString(v.into()))).collect();
        SecretData(Arc::new(Secret { data: Some(data), ..Secret::default() }))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.0.data.as_ref()?.get(key).map(|v| v.0.as_slice())
    }

    /// Sets (or with `None` removes) one key.
    pub fn set(&mut self, key: &str, value: Option<&[u8]>) {
        let data = Arc::make_mut(&mut self.0).data.get_or_insert_with(BTreeMap::new);
        match value {
            Some(v) => data.insert(key.to_string(), ByteString(v.to_vec())),
            None => data.remove(key),
        };
    }
}

/// A referenced Secret as read from the apiserver.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The Secret's data, by key.
    Found(SecretData),
    /// No such Secret in the project's namespace.
    Missing,
    /// The apiserver did not answer; the reason names no value.
    Unavailable(String),
}

/// Whether the requester may `get` a Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Allowed.
    Allowed,
    /// Denied, with the authorizer's reason when it gave one.
    Denied(String),
    /// The apiserver did not answer.
    Unknown(String),
}

/// Everything the rules look at.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    /// `metadata.name` (or the `generateName` prefix when the name is not set yet).
    pub name: &'a str,
    /// Whether `name` is only a `generateName` prefix.
    pub generated_name: bool,
    /// The project's namespace.
    pub namespace: &'a str,
    /// The spec, defaulted (the validating webhook runs after the defaulting one, and
    /// defaulting a defaulted spec changes nothing).
    pub spec: &'a SupabaseProjectSpec,
    /// The stored spec on UPDATE.
    pub old: Option<&'a SupabaseProjectSpec>,
    /// Every referenced Secret, by name.
    pub secrets: &'a BTreeMap<String, Lookup>,
    /// The requester's access to each referenced Secret (empty when the check is off).
    pub access: &'a BTreeMap<String, Access>,
    /// Who is asking, for messages.
    pub user: &'a str,
    /// The policy in force.
    pub policy: &'a Policy,
    /// Seconds since the epoch.
    pub now: i64,
}

/// What validation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Violations; empty means allowed.
    pub causes: Vec<Cause>,
    /// Allowed but risky.
    pub warnings: Vec<String>,
}

impl Report {
    /// Whether some check could not be done (as opposed to found a problem).
    pub fn unavailable(&self) -> bool {
        self.causes.iter().any(|c| c.kind == Kind::Unavailable)
    }
}

/// Runs every rule.
pub fn validate(input: &Input<'_>) -> Report {
    let mut report = Report::default();
    // Five rules walk the references; building them once is a tenth of a review.
    let refs = crds::refs::referenced(input.spec);
    let causes = &mut report.causes;
    names::check(input, causes);
    urls::check(input.spec, causes);
    gateway::check(input.spec, causes);
    workloads::check(input.spec, input.policy, causes);
    images::check(input.spec, input.policy, causes);
    env::check(input.spec, causes);
    secrets::check(input, &refs, causes);
    database::check(input, &refs, causes);
    jwt::check(input, &refs, &mut report);
    keys::check(input, &refs, &mut report);
    s3::check(input.spec, &mut report.causes);
    volume::check(input, &mut report);
    imgproxy::check(input, &mut report);
    functions::check(input, &mut report.causes);
    autoscaling::check(input, &mut report.causes, &mut report.warnings);
    access::check(input, &refs, &mut report.causes);
    release::check(input, &mut report.causes, &mut report.warnings);
    if !input.policy.namespace_allowed(input.namespace) {
        let allowed = input.policy.allowed_namespaces.join(", ");
        report.causes.push(Cause::forbidden(
            Rule::Policy,
            "metadata.namespace",
            format!(
                "the platform policy does not allow SupabaseProjects in namespace {:?} (allowed: {allowed})",
                input.namespace
            ),
        ));
    }
    warnings::check(input, &mut report.warnings);
    report
}

/// The value of a key of a found Secret, as text. `None` when the Secret or key is
/// missing (reported by the Secrets rule) or not UTF-8.
pub(crate) fn secret_value<'s>(input: &'s Input<'_>, secret: &str, key: &str) -> Option<&'s str> {
    match input.secrets.get(secret) {
        Some(Lookup::Found(data)) => data.get(key).and_then(|v| std::str::from_utf8(v).ok()),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::Case;
    use super::{Lookup, SecretData};

    #[test]
    fn secret_data_shows_keys_never_values_and_compares_data_only() {
        let a = SecretData::of([("password", "hunter2-value")]);
        let shown = format!("{:?}", Lookup::Found(a.clone()));
        assert!(shown.contains("password") && !shown.contains("hunter2"), "{shown}");
        assert_eq!(a.get("password"), Some(&b"hunter2-value"[..]));
        let mut b = a.clone();
        assert_eq!(a, b);
        b.set("password", Some(b"other"));
        assert_ne!(a, b);
        assert_eq!(a.get("password"), Some(&b"hunter2-value"[..]), "a copy changed, not the shared Secret");
    }

    #[test]
    fn namespaces_outside_the_policy_are_refused() {
        let mut case = Case::valid();
        case.policy.allowed_namespaces = vec!["prod".into(), "team-*".into()];
        assert!(case.fields().is_empty(), "team-a matches team-*");
        case.namespace = "sandbox".into();
        assert_eq!(case.fields(), ["metadata.namespace"]);
        assert!(case.messages().contains(r#"SupabaseProjects in namespace "sandbox" (allowed: prod, team-*)"#));
    }

    #[test]
    fn every_violation_is_collected_not_just_the_first() {
        let mut case = Case::valid().with(|s| {
            s.api_external_url = "nope".into();
            s.database.port = Some(0);
            s.components.as_mut().unwrap().kong.as_mut().unwrap().workload.replicas = Some(11);
        });
        case.name = "Bad".into();
        case.set_key("jwt", "secret", None);
        assert_eq!(
            case.fields(),
            [
                "metadata.name",
                "spec.apiExternalUrl",
                "spec.components.kong.replicas",
                "spec.jwt.secretRef.secretKey",
                "spec.database.port"
            ]
        );
    }
}

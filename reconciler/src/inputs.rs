//! What a reconcile reads besides the project: the user's referenced Secrets, and the
//! check that refuses to act on a spec that could not have passed admission.
//!
//! Every Secret is watched by metadata only (see `controller`), so the data of Secrets
//! nobody references is never held. A referenced Secret's data is read from the
//! apiserver once per resourceVersion and kept in `UserSecrets`; a reconcile uses it
//! while the watched resourceVersion is the same. Both move only forward, so a
//! project never goes back to older data (which would roll its pods twice).

use crds::SupabaseProject;
use crds::refs;
use crds::rules::{self, Held, Problem};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use crate::Error;
use crate::cache;
use crate::context::Context;
use crate::secret_data::{Data, SecretData};

/// Reads every user Secret the spec references; absent ones are left out.
pub async fn user_secrets(ctx: &Context, api: &Api<Secret>, project: &SupabaseProject) -> Result<SecretData, Error> {
    let namespace = project.namespace().unwrap_or_default();
    let mut out = SecretData::new();
    // A reference without a name is a problem for `problems`, not a request to send.
    for name in refs::referenced_secrets(&project.spec).into_iter().filter(|n| !n.is_empty()) {
        let key = format!("{namespace}/{name}");
        let watched = cache::get(&ctx.caches.all_secrets, &namespace, &name).and_then(|m| m.resource_version());
        if let Some(data) = watched.and_then(|v| ctx.user_secrets.get(&key, &v)) {
            out.insert(name, data);
            continue;
        }
        let read = api.get_opt(&name).await?;
        let read = read.map(|s| {
            let data: Data = s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
            (s.metadata.resource_version.unwrap_or_default(), data)
        });
        if let Some((_, data)) = &read {
            out.insert(name, data.clone());
        }
        ctx.user_secrets.put(key, read);
    }
    Ok(out)
}

/// Why the reconciler cannot act on this project, when admission would have refused
/// it: a name too long for the derived names, or a referenced Secret or key missing or
/// empty. The rules are the webhook's (`crds::rules`); the messages name Secrets, keys
/// and spec paths, never values.
pub fn problems(project: &SupabaseProject, user: &SecretData) -> Vec<String> {
    let mut out = Vec::new();
    let name = project.name_any();
    if let Err(too_long) = rules::name_length(&name) {
        out.push(format!(
            "metadata.name: {name:?} is longer than {} characters, so derived object names would not fit",
            too_long.max
        ));
    }
    for f in crds::functions_rules::check(&name, &project.spec) {
        out.push(format!("{}: {}", f.field, f.detail));
    }
    let refs = refs::referenced(&project.spec);
    let held = |secret: &str| user.get(secret).map_or(Held::Missing, |data| Held::Found(data));
    for f in rules::secret_references(&refs, held) {
        let r = f.reference;
        let what = match f.problem {
            Problem::NoName => "names no Secret".to_string(),
            Problem::NotFound => format!("Secret {:?} not found", r.secret),
            Problem::Unreadable(why) => format!("Secret {:?} could not be read ({why})", r.secret),
            Problem::NoKey | Problem::Empty => format!("Secret {:?} has no non-empty key {:?}", r.secret, r.key),
            Problem::NotText => format!("key {:?} of Secret {:?} is not UTF-8 text", r.key, r.secret),
        };
        out.push(format!("{}: {what}", f.field));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn project(yaml: &str) -> SupabaseProject {
        let spec = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("spec: {e}"));
        SupabaseProject::new("demo", crds::defaults(spec))
    }

    #[test]
    fn missing_secrets_and_keys_are_named_without_values() {
        let p = project("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n");
        let found = problems(&p, &SecretData::new());
        assert_eq!(found, ["spec.database.secretRef.name: Secret \"db\" not found"]);

        let mut user = SecretData::new();
        let data: BTreeMap<String, Vec<u8>> =
            [("host", "h"), ("port", "5432"), ("database", "postgres"), ("password", " ")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect();
        user.insert("db".into(), data);
        let found = problems(&p, &user);
        assert_eq!(found, ["spec.database.secretRef.passwordKey: Secret \"db\" has no non-empty key \"password\""]);
    }

    #[test]
    fn a_reference_without_a_name_is_refused() {
        let p = project("apiExternalUrl: https://x\ndatabase: {secretRef: {name: ''}}\n");
        assert_eq!(problems(&p, &SecretData::new()), ["spec.database.secretRef.name: names no Secret"]);
    }

    #[test]
    fn a_name_too_long_for_the_derived_names_is_refused() {
        let mut p = project("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n");
        p.metadata.name = Some("a".repeat(crds::names::max_project_name_len() + 1));
        let found = problems(&p, &SecretData::new());
        assert!(found[0].starts_with("metadata.name: ") && found[0].contains("derived object names"), "{found:?}");
    }
}

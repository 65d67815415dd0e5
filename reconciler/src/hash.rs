//! The pod-template hash: a digest of every value a component consumes (Secret data
//! and literals, from `workloads::consumed`) and of the ConfigMaps it reads, so that
//! rotating a Secret or changing a ConfigMap rolls exactly the pods that use it.
//!
//! All of a component's values go into one SHA-256, together with generated
//! high-entropy keys, so the annotation does not let anyone test guesses of a single
//! low-entropy value such as a password.

use crds::SupabaseProject;
use crds::refs::{self, Source};
use crds::{Component, SupabaseProjectSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use crate::secret_data::SecretData;
use crate::workloads;

fn field(h: &mut Sha256, bytes: &[u8]) {
    // Length-prefixed, so no two different inputs concatenate to the same stream.
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The hash of what `component` consumes; `secrets` holds user and generated Secret data.
pub fn config_hash(
    project: &SupabaseProject,
    component: Component,
    secrets: &SecretData,
    maps: &[ConfigMap],
) -> String {
    digest(&project.name_any(), &project.spec, component, secrets, maps)
}

fn digest(
    name: &str,
    spec: &SupabaseProjectSpec,
    component: Component,
    secrets: &SecretData,
    maps: &[ConfigMap],
) -> String {
    let mut h = Sha256::new();
    let mut values = workloads::consumed(component, spec);
    values.sort();
    values.dedup();
    for v in values {
        field(&mut h, format!("{v:?}").as_bytes());
        match refs::source(name, spec, v) {
            None => field(&mut h, b"unused"),
            Some(Source::Literal(l)) => {
                field(&mut h, b"literal");
                field(&mut h, l.as_bytes());
            }
            Some(Source::Secret { name, key, .. }) => {
                field(&mut h, name.as_bytes());
                field(&mut h, key.as_bytes());
                let data = secrets.get(&name).and_then(|d| d.get(&key));
                field(&mut h, data.map(Vec::as_slice).unwrap_or(b"<absent>"));
            }
        }
    }
    for m in maps {
        field(&mut h, m.name_any().as_bytes());
        for (k, v) in m.data.iter().flatten() {
            field(&mut h, k.as_bytes());
            field(&mut h, v.as_bytes());
        }
        for (k, v) in m.binary_data.iter().flatten() {
            field(&mut h, k.as_bytes());
            field(&mut h, &v.0);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn maps(data: &str) -> Vec<ConfigMap> {
        vec![ConfigMap {
            metadata: kube::api::ObjectMeta { name: Some("demo-kong".into()), ..Default::default() },
            data: Some(BTreeMap::from([("kong.yml".to_string(), data.to_string())])),
            ..Default::default()
        }]
    }

    #[test]
    fn config_map_content_changes_the_hash() {
        let spec: SupabaseProjectSpec =
            serde_yaml::from_str("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n").unwrap_or_default();
        let secrets = SecretData::new();
        let a = digest("demo", &spec, Component::Kong, &secrets, &maps("a"));
        assert_eq!(a, digest("demo", &spec, Component::Kong, &secrets, &maps("a")));
        assert_ne!(a, digest("demo", &spec, Component::Kong, &secrets, &maps("b")));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn a_secret_value_changes_the_hash_of_its_consumers_only() {
        let spec: SupabaseProjectSpec =
            serde_yaml::from_str("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n").unwrap_or_default();
        let spec = crds::defaults(spec);
        let with = |password: &str| {
            let db = [("host", "h"), ("port", "5432"), ("database", "postgres"), ("password", password)];
            let mut s = SecretData::new();
            s.insert("db".into(), db.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect());
            s
        };
        let (old, new) = (with("one"), with("two"));
        let h = |c, s: &SecretData| digest("demo", &spec, c, s, &[]);
        assert_ne!(h(Component::Auth, &old), h(Component::Auth, &new));
        assert_ne!(h(Component::Meta, &old), h(Component::Meta, &new));
        assert_eq!(h(Component::Kong, &old), h(Component::Kong, &new), "kong does not read the password");
        // The digest is not the plain hash of the value alone.
        let plain = hex::encode(Sha256::digest(b"two"));
        assert_ne!(h(Component::Auth, &new), plain);
    }

    #[test]
    fn studio_rolls_with_its_derived_password_which_follows_the_database_password() {
        let spec: SupabaseProjectSpec = serde_yaml::from_str(
            "apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\ncomponents: {studio: {enabled: true}}\n",
        )
        .unwrap_or_default();
        let spec = crds::defaults(spec);
        let with = |copy: &str| {
            let mut s = SecretData::new();
            s.insert("demo-internal".into(), BTreeMap::from([("studioPostgresPassword".into(), copy.into())]));
            s
        };
        let h = |c, s: &SecretData| digest("demo", &spec, c, s, &[]);
        assert_ne!(h(Component::Studio, &with("one")), h(Component::Studio, &with("two")));
        assert_eq!(h(Component::Meta, &with("one")), h(Component::Meta, &with("two")), "only Studio reads it");
    }
}

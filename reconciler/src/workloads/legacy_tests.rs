//! A project on the legacy keys renders byte for byte what it rendered before Supabase's
//! new keys reached the reconciler: every object of every enabled component, with its
//! pod-template hash, digested and compared with `legacy_digests.txt`, which was written
//! by this test at main b3791a7 (the last commit whose reconciler knew only the legacy
//! keys). A stored project must not roll its pods because the operator was upgraded.
//!
//! Since Storage's volume claim, the Storage Deployment states its update strategy
//! even for a stored project on an emptyDir: Kubernetes' own default (a rolling update,
//! 25% surge and unavailable), which the apiserver had already written into the stored
//! Deployment, so applying it changes no object and rolls no pod. The digest leaves
//! exactly that default out; any other strategy still changes it.
//! `LEGACY_DIGESTS_WRITE=1` rewrites the file; only do that at such a commit. The `meta`
//! lines alone were updated since, on purpose: postgres-meta takes its connection as a URL
//! without the password and PGPASSWORD (meta.rs), so a password with `%` works; its pods roll
//! once on upgrade. The two `studio` lines (`full() studio`, `studio.yaml studio`) were updated
//! since too, on purpose (a bug fix): Studio's `POSTGRES_PASSWORD` comes from the derived,
//! percent-encoded `studioPostgresPassword` of `<name>-internal` instead of the database
//! Secret (see `crate::studio_password`), so a password with `@ / ? # %` works in Studio's
//! connection URL; Studio's pods roll once on upgrade. Every other line is unchanged.

use sha2::{Digest, Sha256};

use super::component;
use super::fixtures::{full, literal_db, minimal};
use crate::secret_data::SecretData;
use crds::CATALOG;

fn samples() -> Vec<(String, crds::SupabaseProject)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples");
    let mut out =
        vec![("minimal()".to_string(), minimal()), ("full()".into(), full()), ("literal_db()".into(), literal_db())];
    // full.yaml uses the new keys; the others are legacy as stored.
    for sample in ["minimal.yaml", "studio.yaml", "zalando.yaml", "cloudnativepg.yaml"] {
        let text = std::fs::read_to_string(dir.join(sample)).expect("sample");
        let doc = serde_yaml::Deserializer::from_str(&text)
            .filter_map(|d| <serde_yaml::Value as serde::Deserialize>::deserialize(d).ok())
            .find(|v| v["kind"] == "SupabaseProject")
            .expect("a project");
        let mut p: crds::SupabaseProject = serde_yaml::from_value(doc).expect("sample parses");
        // studio.yaml has since gained a volume claim; stored projects have none.
        if let Some(storage) = p.spec.storage.as_mut() {
            storage.volume = None;
        }
        p.spec = crds::defaults(p.spec);
        p.metadata.namespace = Some("ns".into());
        p.metadata.uid = Some("0b5c1f5e-1111-2222-3333-444455556666".into());
        out.push((sample.to_string(), p));
    }
    out
}

fn digests() -> String {
    let mut out = String::new();
    for (name, p) in samples() {
        for e in CATALOG.iter().filter(|e| p.spec.enabled(e.component)) {
            let draft = component(&p, e.component, "").expect("renders");
            let hash = crate::hash::config_hash(&p, e.component, &SecretData::new(), &draft.config_maps);
            let mut o = component(&p, e.component, &hash).expect("renders");
            if let Some(spec) = o.deployment.spec.as_mut()
                && spec.strategy.as_ref().is_some_and(is_kubernetes_default)
            {
                spec.strategy = None;
            }
            let json = serde_json::to_string(&(&o.config_maps, &o.service, &o.deployment)).expect("serializes");
            out.push_str(&format!("{name} {} {}\n", e.name, hex::encode(Sha256::digest(json.as_bytes()))));
        }
    }
    out
}

/// The strategy the apiserver fills into a Deployment that names none
/// (k8s.io/kubernetes pkg/apis/apps/v1/defaults.go, SetDefaults_Deployment).
fn is_kubernetes_default(s: &k8s_openapi::api::apps::v1::DeploymentStrategy) -> bool {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let quarter = Some(IntOrString::String("25%".into()));
    s.type_.as_deref() == Some("RollingUpdate")
        && s.rolling_update.as_ref().is_some_and(|r| r.max_surge == quarter && r.max_unavailable == quarter)
}

#[test]
fn legacy_projects_render_byte_for_byte_as_before_the_new_keys() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workloads/legacy_digests.txt");
    let now = digests();
    if std::env::var_os("LEGACY_DIGESTS_WRITE").is_some() {
        std::fs::write(&path, &now).expect("write digests");
    }
    let recorded = std::fs::read_to_string(&path).expect("legacy_digests.txt");
    assert!(recorded.lines().count() > 20, "the file covers the projects");
    assert_eq!(now, recorded, "a legacy project's objects changed");
}

//! The ClusterRoles the install ships for tenants (those of `config/rbac` labelled to
//! aggregate into Kubernetes' `admin`, `edit` or `view`), read from the manifests as
//! kustomize renders them, installed as an administrator would, and a wait until the
//! clusterrole-aggregation controller has copied their rules into the bootstrap roles.

use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Api;

use crate::TestEnv;

/// The label prefix the bootstrap `admin`, `edit` and `view` roles select on.
pub const AGGREGATE_TO: &str = "rbac.authorization.k8s.io/aggregate-to-";

/// The bootstrap roles that aggregate, each selecting `<AGGREGATE_TO><name>: "true"`.
pub const BOOTSTRAP: [&str; 3] = ["admin", "edit", "view"];

/// Whether `role` is labelled to aggregate into the bootstrap role `into`.
pub fn aggregates_into(role: &ClusterRole, into: &str) -> bool {
    role.metadata.labels.as_ref().and_then(|l| l.get(&format!("{AGGREGATE_TO}{into}"))).is_some_and(|v| v == "true")
}

/// Every ClusterRole of `kubectl kustomize config/rbac` that aggregates into a bootstrap
/// role: what `kubectl apply -k config/default` installs for tenants.
pub async fn shipped(env: &TestEnv) -> Vec<ClusterRole> {
    let dir = crate::repo_path("config/rbac");
    let rendered = env.kubectl().args(["kustomize", dir.to_str().expect("utf-8 path")]).ok().await;
    let mut roles = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&rendered) {
        let v: serde_json::Value = serde::Deserialize::deserialize(doc).expect("a YAML document");
        if v["kind"] != "ClusterRole" {
            continue;
        }
        let role: ClusterRole = serde_json::from_value(v).expect("a ClusterRole");
        if BOOTSTRAP.iter().any(|b| aggregates_into(&role, b)) {
            roles.push(role);
        }
    }
    assert!(!roles.is_empty(), "config/rbac ships no ClusterRole aggregated into admin, edit or view");
    roles
}

/// Applies `roles` with `kubectl apply --server-side` (idempotent, so tests sharing the
/// cluster may all do it) and waits until each bootstrap role holds every rule of every
/// role labelled for it. Waiting for all of them, not just the first a test uses, keeps a
/// refusal checked afterwards from passing only because aggregation was half done.
pub async fn install(env: &TestEnv, roles: &[ClusterRole]) {
    let docs: Vec<String> = roles.iter().map(|r| serde_yaml::to_string(r).expect("serializes")).collect();
    env.kubectl()
        .args(["apply", "--server-side", "--field-manager", crate::crd::MANAGER, "-f", "-"])
        .stdin(docs.join("---\n"))
        .ok()
        .await;
    let api: Api<ClusterRole> = Api::all(env.client.clone());
    crate::reconciler::eventually("the clusterrole-aggregation controller", crate::patience::settle(), || async {
        for into in BOOTSTRAP {
            let target = api.get(into).await.map_err(|e| format!("get {into}: {e}"))?;
            let have = target.rules.unwrap_or_default();
            for role in roles.iter().filter(|r| aggregates_into(r, into)) {
                for rule in role.rules.iter().flatten() {
                    if !have.contains(rule) {
                        return Err(format!("{into} lacks {rule:?} of {:?}", role.metadata.name));
                    }
                }
            }
        }
        Ok(())
    })
    .await;
}

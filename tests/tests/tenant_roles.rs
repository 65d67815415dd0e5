//! Tenants with Kubernetes' own roles: users bound to the bootstrap `edit`, `view` and
//! `admin` ClusterRoles in a namespace, driving `kubectl --as=<user>` against the real
//! apiserver and the real webhook. What those roles grant on projects comes only from the
//! ClusterRoles `config/rbac` ships (read from the files, see harness::tenant_roles) and
//! the clusterrole-aggregation controller the test control plane runs.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::SupabaseProject;
use harness::TestEnv;
use harness::kubectl::{Kubectl, Output};
use harness::tenant_roles::{self, aggregates_into};
use harness::webhook::Admitting;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Api;

struct Setup {
    admitting: Admitting,
    roles: Vec<ClusterRole>,
}

impl std::ops::Deref for Setup {
    type Target = Admitting;
    fn deref(&self) -> &Admitting {
        &self.admitting
    }
}

/// A namespace with the webhook registered, the shipped tenant roles aggregated, and two
/// valid database Secrets, `demo-db` and `other-db`.
async fn setup(test: &str) -> Setup {
    let env = TestEnv::new(test).await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let roles = tenant_roles::shipped(&env).await;
    tenant_roles::install(&env, &roles).await;
    let secrets: Api<Secret> = env.api();
    for name in ["demo-db", "other-db"] {
        secrets.create(&Default::default(), &harness::fixtures::database(name)).await.expect("create Secret");
    }
    Setup { admitting: Admitting::on(env, &[]).await, roles }
}

impl Setup {
    async fn done(self) {
        self.admitting.done().await;
    }

    fn as_user(&self, user: &str) -> Kubectl {
        self.env.kubectl().args([format!("--as={user}")])
    }

    /// Binds `user` in the test's namespace to a ClusterRole, as a namespace owner would.
    async fn bind(&self, user: &str, cluster_role: &str) {
        let name = format!("{user}-{cluster_role}");
        self.env
            .kubectl()
            .args(["create", "rolebinding", &name, &format!("--clusterrole={cluster_role}"), &format!("--user={user}")])
            .ok()
            .await;
    }

    /// The shipped role that grants writes: aggregated into `edit` but not into `view`.
    fn shipped_edit_role(&self) -> String {
        let mut writers = self.roles.iter().filter(|r| aggregates_into(r, "edit") && !aggregates_into(r, "view"));
        let role = writers.next().expect("config/rbac ships a role aggregated into edit only");
        assert!(writers.next().is_none(), "more than one edit-only role shipped");
        role.metadata.name.clone().expect("named")
    }

    async fn stored(&self, name: &str) -> Option<SupabaseProject> {
        self.env.api::<SupabaseProject>().get_opt(name).await.expect("read the project")
    }
}

/// The project a tenant keeps in a file.
fn project(name: &str, db_secret: &str) -> String {
    format!(
        "apiVersion: supabase-operator.io/v1alpha1
kind: SupabaseProject
metadata:
  name: {name}
spec:
  apiExternalUrl: https://api.{name}.example.com
  database:
    secretRef:
      name: {db_secret}
"
    )
}

/// kubectl was refused by the apiserver's authorizer for `verb` on `resource`.
fn assert_forbidden(out: &Output, user: &str, verb: &str, resource: &str) {
    assert!(!out.success, "{user} was allowed to {verb} {resource}:\n{}", out.stdout);
    let expected = format!("User \"{user}\" cannot {verb} resource \"{resource}\"");
    assert!(out.stderr.contains(&expected), "expected {expected:?} in:\n{}", out.stderr);
}

const STATUS_PATCH: &str = r#"{"status":{"phase":"Running","message":"written by a tenant"}}"#;

#[tokio::test]
async fn an_edit_user_applies_a_project_in_their_namespace_with_secrets_they_may_read() {
    let s = setup("tenant-edit").await;

    // Without a binding alice may do nothing with projects: what follows is the binding's doing.
    let out = s.as_user("alice").args(["apply", "-f", "-"]).stdin(project("demo", "other-db")).run().await;
    assert_forbidden(&out, "alice", "get", "supabaseprojects");

    // Bound to `edit`, which reads every Secret of the namespace: any of them will do.
    s.bind("alice", "edit").await;
    let out = s.as_user("alice").args(["apply", "-f", "-"]).stdin(project("demo", "other-db")).run().await;
    assert!(out.success, "alice (edit) was refused:\n{}", out.stderr);
    let stored = s.stored("demo").await.expect("alice's project is stored");
    assert_eq!(stored.spec.database.secret_ref.name, "other-db");
    assert!(stored.spec.release.is_some(), "stored without the webhook's defaults: {:?}", stored.spec.release);

    // Status is the reconciler's: edit may read it, not write it.
    let out = s
        .as_user("alice")
        .args(["patch", "sbp", "demo", "--subresource=status", "--type=merge", "-p", STATUS_PATCH])
        .run()
        .await;
    assert_forbidden(&out, "alice", "patch", "supabaseprojects/status");
    s.as_user("alice").args(["get", "--raw", &status_path(&s.env.namespace, "demo")]).ok().await;

    // The binding is the namespace's: elsewhere alice is refused.
    let elsewhere = TestEnv::new("tenant-edit-elsewhere").await.expect("second namespace");
    let out =
        elsewhere.kubectl().args(["--as=alice", "apply", "-f", "-"]).stdin(project("demo", "other-db")).run().await;
    assert_forbidden(&out, "alice", "get", "supabaseprojects");
    assert!(out.stderr.contains(&format!("in the namespace \"{}\"", elsewhere.namespace)), "{}", out.stderr);

    // bob has the shipped edit role bound directly and may read `demo-db` only: he may
    // write projects, but not one that mounts `other-db`.
    s.bind("bob", &s.shipped_edit_role()).await;
    s.env
        .kubectl()
        .args(["create", "role", "db-reader", "--verb=get", "--resource=secrets", "--resource-name=demo-db"])
        .ok()
        .await;
    s.env.kubectl().args(["create", "rolebinding", "bob-db-reader", "--role=db-reader", "--user=bob"]).ok().await;
    let out = s.as_user("bob").args(["apply", "-f", "-"]).stdin(project("bobs", "other-db")).run().await;
    assert!(!out.success, "bob mounted a Secret he cannot read");
    assert!(
        out.stderr.contains(
            "spec.database.secretRef.name: Forbidden: user \"bob\" cannot get Secret \"other-db\" in namespace"
        ),
        "{}",
        out.stderr
    );
    assert!(s.stored("bobs").await.is_none(), "the refused project was stored");
    let out = s.as_user("bob").args(["apply", "-f", "-"]).stdin(project("bobs", "demo-db")).run().await;
    assert!(out.success, "bob was refused a project with the Secret he may read:\n{}", out.stderr);
    assert!(s.stored("bobs").await.is_some());
    s.done().await;
}

fn status_path(namespace: &str, name: &str) -> String {
    format!("/apis/supabase-operator.io/v1alpha1/namespaces/{namespace}/supabaseprojects/{name}/status")
}

#[tokio::test]
async fn a_view_user_lists_and_reads_projects_and_their_status_and_changes_nothing() {
    let s = setup("tenant-view").await;
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(project("demo", "demo-db")).ok().await;
    // What the reconciler would write, so there is a status to read.
    let message = "waiting for the test";
    let status = format!(r#"{{"status":{{"phase":"Pending","message":"{message}"}}}}"#);
    s.env.kubectl().args(["patch", "sbp", "demo", "--subresource=status", "--type=merge", "-p", &status]).ok().await;
    let before = s.stored("demo").await.expect("stored");

    s.bind("carol", "view").await;
    let listed = s.as_user("carol").args(["get", "sbp", "-o", "name"]).ok().await;
    assert_eq!(listed.trim(), "supabaseproject.supabase-operator.io/demo");
    let read = s.as_user("carol").args(["get", "sbp", "demo", "-o", "jsonpath={.status.message}"]).ok().await;
    assert_eq!(read, message);
    let raw = s.as_user("carol").args(["get", "--raw", &status_path(&s.env.namespace, "demo")]).ok().await;
    let raw: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(raw["status"]["message"], message, "the status subresource as carol");

    let changed = project("demo", "demo-db").replace("api.demo.example.com", "api.changed.example.com");
    let out = s.as_user("carol").args(["apply", "-f", "-"]).stdin(changed).run().await;
    assert_forbidden(&out, "carol", "patch", "supabaseprojects");
    let out = s.as_user("carol").args(["create", "-f", "-"]).stdin(project("another", "demo-db")).run().await;
    assert_forbidden(&out, "carol", "create", "supabaseprojects");
    let out = s.as_user("carol").args(["delete", "sbp", "demo"]).run().await;
    assert_forbidden(&out, "carol", "delete", "supabaseprojects");
    let out = s
        .as_user("carol")
        .args(["patch", "sbp", "demo", "--subresource=status", "--type=merge", "-p", STATUS_PATCH])
        .run()
        .await;
    assert_forbidden(&out, "carol", "patch", "supabaseprojects/status");

    let after = s.stored("demo").await.expect("still there");
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version, "a refused change was written");
    assert!(s.stored("another").await.is_none());
    s.done().await;
}

#[tokio::test]
async fn an_admin_user_deletes_a_project_but_does_not_write_its_status() {
    let s = setup("tenant-admin").await;
    s.bind("dave", "admin").await;
    let out = s.as_user("dave").args(["apply", "-f", "-"]).stdin(project("demo", "demo-db")).run().await;
    assert!(out.success, "dave (admin) was refused:\n{}", out.stderr);
    assert!(s.stored("demo").await.is_some());

    let out = s
        .as_user("dave")
        .args(["patch", "sbp", "demo", "--subresource=status", "--type=merge", "-p", STATUS_PATCH])
        .run()
        .await;
    assert_forbidden(&out, "dave", "patch", "supabaseprojects/status");

    s.as_user("dave").args(["delete", "sbp", "demo"]).ok().await;
    assert!(s.stored("demo").await.is_none(), "deleted, with no finalizer to wait for");
    s.done().await;
}

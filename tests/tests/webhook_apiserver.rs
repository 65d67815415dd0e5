//! The webhook behind the real apiserver: both configurations registered at
//! `https://127.0.0.1:<port>` with the test CA, and projects applied with `kubectl`
//! exactly as a user would.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crds::SupabaseProject;
use harness::webhook::Admitting;
use kube::api::Api;

const SECRET: &str = "a-jwt-secret-of-at-least-32-characters!!";

/// HS256 the way upstream's generate-keys.sh signs: HMAC over the raw secret string.
fn key(role: &str, iss: &str, exp: i64) -> String {
    use hmac::{Hmac, Mac};
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let now = chrono::Utc::now().timestamp();
    let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"role":"{role}","iss":"{iss}","iat":{now},"exp":{exp}}}"#));
    let input = format!("{header}.{claims}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

fn in_days(days: i64) -> i64 {
    chrono::Utc::now().timestamp() + days * 86_400
}

async fn setup(test: &str) -> Admitting {
    Admitting::start(test, &[]).await
}

/// The database Secret every project here names.
async fn db_secret(s: &Admitting) {
    s.secret("demo-db", &[("host", "db.example.com"), ("port", "5432"), ("database", "postgres"), ("password", "pw")])
        .await;
}

async fn jwt_secret(s: &Admitting, name: &str, anon: &str, service: &str) {
    s.secret(name, &[("secret", SECRET), ("anonKey", anon), ("serviceKey", service)]).await;
}

// alice may manage projects and read the database Secret, not the JWT one.
const ALICE_RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: alice}\nrules:\n\
     - {apiGroups: [supabase-operator.io], resources: [supabaseprojects], verbs: ['*']}\n\
     - {apiGroups: [''], resources: [secrets], verbs: [get], resourceNames: [demo-db]}\n---\n\
     apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: alice}\n\
     roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: alice}\n\
     subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]\n";

use harness::fixtures::MINIMAL_PROJECT as MINIMAL;

fn with_jwt(yaml: &str, secret: &str) -> String {
    format!("{yaml}  jwt:\n    secretRef:\n      name: {secret}\n")
}

#[tokio::test]
async fn a_minimal_project_is_stored_with_every_default_filled() {
    let s = setup("wh-minimal").await;
    db_secret(&s).await;
    let sample = std::fs::read_to_string(harness::repo_path("config/samples/minimal.yaml")).unwrap();
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(sample.clone()).ok().await;

    let stored: SupabaseProject = s.env.api().get("demo").await.expect("stored");
    let sent: SupabaseProject = serde_yaml::from_str(&sample).unwrap();
    let defaulted = crds::defaults_as(sent.spec, crds::Admitted::Created);
    assert_eq!(stored.spec, defaulted, "the stored spec is the sent one, defaulted as a new project");
    let spec = serde_json::to_value(&stored.spec).unwrap();
    assert_eq!(spec["siteUrl"], "https://api.demo.example.com");
    assert_eq!(spec["components"]["kong"]["image"], "kong/kong:3.9.3");
    assert_eq!(spec["components"]["auth"]["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(spec["database"]["secretRef"]["passwordKey"], "password");
    assert_eq!(spec["jwt"]["keys"], "both", "a new project gets the new keys beside the legacy ones");

    // Applying it again changes nothing: the defaulted object gets an empty patch.
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(sample).ok().await;
    assert!(out.contains("unchanged"), "{out}");
    s.done().await;
}

#[tokio::test]
async fn a_new_project_gets_a_storage_claim_that_kubectl_cannot_shrink_or_share() {
    let s = setup("wh-storage-claim").await;
    db_secret(&s).await;
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(MINIMAL).ok().await;
    let stored: SupabaseProject = s.env.api().get("demo").await.expect("stored");
    let spec = serde_json::to_value(&stored.spec).unwrap();
    assert_eq!(
        spec["storage"]["volume"],
        serde_json::json!({"size": "1Gi", "accessModes": ["ReadWriteOnce"], "whenDeleted": "retain"})
    );

    let shrink = format!("{MINIMAL}  storage:\n    volume:\n      size: 500Mi\n");
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(shrink).run().await;
    assert!(!out.success, "a claim was shrunk");
    assert!(
        out.stderr.contains(
            "spec.storage.volume.size: Invalid value: \"500Mi\": must not be less than the previous value \"1Gi\""
        ),
        "{}",
        out.stderr
    );
    let scaled = format!("{MINIMAL}  components:\n    storage:\n      replicas: 2\n");
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(scaled).run().await;
    assert!(!out.success, "two Storage pods on a ReadWriteOnce claim");
    assert!(out.stderr.contains("spec.components.storage.replicas: Invalid value: 2"), "{}", out.stderr);
    assert!(out.stderr.contains("ReadWriteOnce"), "{}", out.stderr);

    // A client replacing the object without the field keeps the claim.
    s.env.kubectl().args(["replace", "-f", "-"]).stdin(MINIMAL).ok().await;
    let stored: SupabaseProject = s.env.api().get("demo").await.expect("stored");
    let spec = serde_json::to_value(&stored.spec).unwrap();
    assert_eq!(spec["storage"]["volume"]["size"], "1Gi", "{spec}");
    s.done().await;
}

#[tokio::test]
async fn each_invalid_sample_is_refused_naming_the_field() {
    let s = setup("wh-invalid").await;
    db_secret(&s).await;
    s.secret("short-db-port", &[("host", "db"), ("port", "99999"), ("database", "d"), ("password", "pw")]).await;
    s.secret("no-password", &[("host", "db"), ("port", "5432"), ("database", "d")]).await;
    jwt_secret(
        &s,
        "wrong-role",
        &key("service_role", "supabase", in_days(365)),
        &key("service_role", "supabase", in_days(365)),
    )
    .await;
    let cases: Vec<(String, &str)> = vec![
        (MINIMAL.replace("https://api.demo.example.com", "api.demo.example.com"), "spec.apiExternalUrl: Invalid value"),
        (
            format!("{MINIMAL}  components:\n    kong:\n      replicas: 50\n"),
            "spec.components.kong.replicas: Invalid value: 50: must be at most 10",
        ),
        (format!("{MINIMAL}  components:\n    kong:\n      image: kong:latest\n"), "spec.components.kong.image"),
        (
            format!(
                "{MINIMAL}  components:\n    auth:\n      env:\n      - name: GOTRUE_JWT_SECRET\n        value: x\n"
            ),
            "spec.components.auth.env[0].name: Forbidden",
        ),
        (MINIMAL.replace("name: demo-db", "name: nowhere"), "spec.database.secretRef.name: Not found: \"nowhere\""),
        (MINIMAL.replace("name: demo-db", "name: no-password"), "spec.database.secretRef.passwordKey"),
        (MINIMAL.replace("name: demo-db", "name: short-db-port"), "spec.database.secretRef.portKey"),
        (
            with_jwt(MINIMAL, "wrong-role"),
            "spec.jwt.secretRef.anonKeyKey: Invalid value: \"anonKey\": the anon key in Secret \"wrong-role\" has role \"service_role\"",
        ),
        (
            format!(
                "{MINIMAL}  storage:\n    backend: s3\n    s3: {{bucket: Bad_Bucket, region: r, secretRef: {{name: demo-db}}}}\n"
            ),
            "spec.storage.s3.bucket",
        ),
        (MINIMAL.replace("name: demo\n", &format!("name: {}\n", "a".repeat(60))), "metadata.name"),
    ];
    for (yaml, expected) in cases {
        let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(yaml.clone()).run().await;
        assert!(!out.success, "accepted:\n{yaml}");
        // kubectl prints a 422 with causes as `The SupabaseProject "x" is invalid:` and one line per cause.
        assert!(out.stderr.contains("SupabaseProject \"") && out.stderr.contains("is invalid"), "{}", out.stderr);
        assert!(out.stderr.contains(expected), "expected {expected:?} in:\n{}", out.stderr);
    }
    // Every violation at once, not just the first.
    let many = format!(
        "{}  components:\n    kong:\n      replicas: 50\n      image: kong\n",
        MINIMAL.replace("https://api.demo.example.com", "ftp://x").replace("name: demo-db", "name: nowhere")
    );
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(many).run().await;
    for field in [
        "spec.apiExternalUrl",
        "spec.components.kong.replicas",
        "spec.components.kong.image",
        "spec.database.secretRef.name",
    ] {
        assert!(out.stderr.contains(field), "{field} missing from:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("The SupabaseProject \"demo\" is invalid: "), "{}", out.stderr);
    let stored =
        Api::<SupabaseProject>::namespaced(s.env.client.clone(), &s.env.namespace).list(&Default::default()).await;
    assert!(stored.unwrap().items.is_empty(), "nothing invalid was stored");
    s.done().await;
}

#[tokio::test]
async fn server_side_dry_run_defaults_and_validates_without_storing() {
    let s = setup("wh-dry-run").await;
    db_secret(&s).await;
    let out = s.env.kubectl().args(["apply", "--dry-run=server", "-o", "json", "-f", "-"]).stdin(MINIMAL).ok().await;
    let answered: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        answered["spec"]["components"]["kong"]["image"], "kong/kong:3.9.3",
        "dry run returns the defaulted object"
    );
    let got = s.env.kubectl().args(["get", "sbp", "demo"]).run().await;
    assert!(!got.success && got.stderr.contains("NotFound"), "dry run stored the project: {}", got.stdout);
    let bad = s
        .env
        .kubectl()
        .args(["apply", "--dry-run=server", "-f", "-"])
        .stdin(MINIMAL.replace("demo-db", "gone"))
        .run()
        .await;
    assert!(!bad.success && bad.stderr.contains("spec.database.secretRef.name"), "{}", bad.stderr);
    s.done().await;
}

#[tokio::test]
async fn a_user_who_cannot_read_the_jwt_secret_is_refused() {
    let s = setup("wh-access").await;
    db_secret(&s).await;
    jwt_secret(&s, "demo-jwt", &key("anon", "supabase", in_days(365)), &key("service_role", "supabase", in_days(365)))
        .await;
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(ALICE_RBAC).ok().await;
    let project = with_jwt(MINIMAL, "demo-jwt");
    let out = s.env.kubectl().args(["--as=alice", "apply", "-f", "-"]).stdin(project.clone()).run().await;
    assert!(!out.success, "alice mounted a Secret she cannot read");
    assert!(
        out.stderr.contains("spec.jwt.secretRef.name: Forbidden: user \"alice\" cannot get Secret \"demo-jwt\""),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("demo-db\" in namespace"), "alice may read demo-db: {}", out.stderr);
    // The same project from someone who can read both is fine.
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(project).ok().await;
    s.done().await;
}

#[tokio::test]
async fn warnings_show_in_kubectl_output() {
    let s = setup("wh-warnings").await;
    db_secret(&s).await;
    jwt_secret(&s, "soon", &key("anon", "supabase-demo", in_days(10)), &key("service_role", "supabase", in_days(365)))
        .await;
    let project = format!("{}  components:\n    studio:\n      enabled: true\n", with_jwt(MINIMAL, "soon"));
    let out = s.env.kubectl().args(["apply", "-f", "-"]).stdin(project).run().await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains("Warning: spec.jwt.secretRef.anonKeyKey: the anon key in Secret \"soon\" expires at"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("public demo keys"), "{}", out.stderr);
    assert!(out.stderr.contains("Warning: spec.components.studio.enabled"), "{}", out.stderr);
    assert!(!out.stderr.contains(SECRET), "the secret leaked: {}", out.stderr);
    s.done().await;
}

#[tokio::test]
async fn a_project_whose_secrets_are_gone_can_still_be_deleted() {
    let s = setup("wh-deleting").await;
    db_secret(&s).await;
    let project =
        MINIMAL.replace("metadata:\n  name: demo\n", "metadata:\n  name: demo\n  finalizers: [example.com/hold]\n");
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(project).ok().await;
    s.env.kubectl().args(["delete", "secret", "demo-db"]).ok().await;
    s.env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    // Removing the finalizer is an UPDATE of an object being deleted whose Secret is gone.
    s.env
        .kubectl()
        .args(["patch", "sbp", "demo", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#])
        .ok()
        .await;
    let got = s.env.kubectl().args(["get", "sbp", "demo"]).run().await;
    assert!(!got.success && got.stderr.contains("NotFound"), "still there: {}", got.stdout);
    s.done().await;
}

#[tokio::test]
async fn access_answers_are_cached_briefly_and_the_check_can_be_turned_off() {
    let s = Admitting::start(
        "wh-access-cache",
        &["--access-denied-ttl-seconds", "1", "--access-allowed-ttl-seconds", "300"],
    )
    .await;
    db_secret(&s).await;
    jwt_secret(&s, "demo-jwt", &key("anon", "supabase", in_days(365)), &key("service_role", "supabase", in_days(365)))
        .await;
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(ALICE_RBAC).ok().await;
    let project = with_jwt(MINIMAL, "demo-jwt");
    let as_alice =
        || s.env.kubectl().args(["--as=alice", "apply", "--dry-run=server", "-f", "-"]).stdin(project.clone());
    assert!(!as_alice().run().await.success);

    // Granted: the denial is forgotten after its short lifetime.
    s.env
        .kubectl()
        .args(["create", "role", "jwt-reader", "--verb=get", "--resource=secrets", "--resource-name=demo-jwt"])
        .ok()
        .await;
    s.env.kubectl().args(["create", "rolebinding", "jwt-reader", "--role=jwt-reader", "--user=alice"]).ok().await;
    // The apiserver's authorizer sees the binding a moment later, and a denial it gave
    // meanwhile is cached for the denied TTL again: allowed within that TTL and a margin.
    let denied_ttl = std::time::Duration::from_secs(1);
    harness::reconciler::eventually("the grant is seen", harness::patience::after(denied_ttl), || async {
        let out = as_alice().run().await;
        if out.success { Ok(()) } else { Err(out.stderr) }
    })
    .await;

    // Revoked: the grant is remembered for its longer lifetime, as the apiserver's own
    // webhook authorizer does.
    s.env.kubectl().args(["delete", "rolebinding", "jwt-reader"]).ok().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(as_alice().run().await.success, "the allowed answer was not cached");
    s.done().await;

    let s = Admitting::start("wh-access-off", &["--check-secret-access=false"]).await;
    db_secret(&s).await;
    jwt_secret(&s, "demo-jwt", &key("anon", "supabase", in_days(365)), &key("service_role", "supabase", in_days(365)))
        .await;
    s.env.kubectl().args(["apply", "-f", "-"]).stdin(ALICE_RBAC).ok().await;
    let out = s.env.kubectl().args(["--as=alice", "apply", "-f", "-"]).stdin(with_jwt(MINIMAL, "demo-jwt")).run().await;
    assert!(out.success, "with the check off alice may reference it: {}", out.stderr);
    s.done().await;
}

#[tokio::test]
async fn every_sample_is_admitted_when_its_secrets_exist() {
    let s = setup("wh-samples").await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = s.env.api();
    let mut all = harness::fixtures::full_sample();
    all.push(harness::fixtures::database("demo-db"));
    all.push(harness::fixtures::database("studio-db"));
    all.push(harness::fixtures::secret("studio-dashboard", &[("username", "supabase"), ("password", "pw")]));
    all.push(harness::fixtures::secret(
        "supabase-app",
        &[("host", "supabase-rw"), ("port", "5432"), ("dbname", "app"), ("password", "pw")],
    ));
    all.push(harness::fixtures::secret(
        "postgres.acid-supabase.credentials.postgresql.acid.zalan.do",
        &[("username", "postgres"), ("password", "pw")],
    ));
    for secret in all {
        secrets.create(&Default::default(), &secret).await.expect("create Secret");
    }
    for sample in ["minimal", "full", "studio", "cloudnativepg", "zalando"] {
        let path = harness::repo_path(&format!("config/samples/{sample}.yaml"));
        let out = s.env.kubectl().args(["apply", "-f", path.to_str().unwrap()]).run().await;
        assert!(out.success, "{sample} refused: {}", out.stderr);
        for value in harness::fixtures::SECRET_VALUES {
            assert!(!out.stdout.contains(value) && !out.stderr.contains(value), "{sample} printed a Secret value");
        }
    }
    let stored =
        Api::<SupabaseProject>::namespaced(s.env.client.clone(), &s.env.namespace).list(&Default::default()).await;
    let stored = stored.unwrap().items;
    assert_eq!(stored.len(), 5);
    for project in stored {
        assert_eq!(
            project.spec,
            crds::defaults(project.spec.clone()),
            "{:?} stored without defaults",
            project.metadata.name
        );
    }
    s.done().await;
}

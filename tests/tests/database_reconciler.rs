//! The reconciler against a real PostgreSQL: the preflight and db-init Jobs run for real
//! (the harness's stand-in runs their containers' commands here), a component whose
//! hard prerequisite is missing is held back while the others roll, and it rolls once the
//! database is fixed and rechecked. Then the real postgres-meta, started with the env of
//! the Deployment the reconciler applied, answers with a password full of URL syntax, also
//! to the connection Studio makes from the env the reconciler gave it.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::{Component, Phase, SupabaseProject, conditions};
use harness::TestEnv;
use harness::meta::Meta;
use harness::pod_env::{self, PodFields};
use harness::postgres::{Flavor, Postgres};
use harness::preflight_standin::Database;
use harness::reconciler::{self as rec, eventually};
use harness::{deployments, patience};
use k8s_openapi::api::apps::v1::Deployment;

/// URL syntax (`@:/?#&`) and an escape (`%20`) a URL decoder would turn into a space.
const PASSWORD: &str = "p@ss:w/rd%20?#&";

const SPEC: &str = "apiExternalUrl: https://api.example.com\ndatabase:\n  initialize: true\n  sslMode: disable\n  \
                    secretRef:\n    name: db\n";

/// The pod-template annotation that rolls a component's pods (reconciler/src/workloads/mod.rs).
const HASH: &str = "supabase-operator.io/config-hash";

/// [`SPEC`] with Studio on.
const SPEC_WITH_STUDIO: &str = "apiExternalUrl: https://api.example.com\ndatabase:\n  initialize: true\n  \
                                sslMode: disable\n  secretRef:\n    name: db\ncomponents:\n  studio:\n    \
                                enabled: true\n";

/// A namespace with the CRD, a `db` Secret pointing at `pg`, and the project `demo`.
async fn env_for(test: &str, pg: &Postgres) -> TestEnv {
    env_with(test, pg, SPEC).await
}

/// [`env_for`] with the project's spec `spec`.
async fn env_with(test: &str, pg: &Postgres, spec: &str) -> TestEnv {
    let env = TestEnv::new(test).await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  host: 127.0.0.1\n  port: \"{}\"\n  \
         database: postgres\n  password: {PASSWORD:?}\n",
        pg.port
    );
    env.kubectl().args(["apply", "-f", "-"]).stdin(secret).ok().await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", spec)).ok().await;
    env
}

fn reason(p: &SupabaseProject) -> String {
    let status = p.status.clone().unwrap_or_default();
    conditions::find(&status.conditions, conditions::DATABASE_READY).map(|c| c.reason.clone()).unwrap_or_default()
}

/// Waits until `DatabaseReady` has `want` as its reason after a check by a Job other than `not_by`.
async fn wait_database(env: &TestEnv, want: &str, not_by: Option<&str>) -> SupabaseProject {
    eventually(&format!("DatabaseReady {want}"), patience::settle(), || async {
        let p = rec::project(env, "demo").await;
        let by = p.status.as_ref().and_then(|s| s.database.as_ref()).and_then(|d| d.checked_by.clone());
        if reason(&p) == want && by.as_deref() != not_by { Ok(p) } else { Err(format!("{}: {by:?}", reason(&p))) }
    })
    .await
}

/// Marks the enabled components but `skip` ready in rollout order, each once applied.
async fn roll(env: &TestEnv, skip: &[Component]) {
    let p = rec::project(env, "demo").await;
    for e in crds::CATALOG.iter().filter(|e| p.spec.enabled(e.component) && !skip.contains(&e.component)) {
        rec::wait_deployment(env, "demo", e.component).await;
        deployments::mark_ready(&env.api(), &crds::names::component("demo", e.component)).await.expect("mark ready");
    }
}

#[tokio::test]
async fn realtime_is_held_back_without_logical_decoding_and_rolls_after_the_fix_and_a_recheck() {
    let mut pg = Postgres::start(Flavor::Plain, PASSWORD);
    let env = env_for("db-held", &pg).await;
    let reconciler = rec::start_with_database(&env, "only", Database::Real);

    // The preflight, db-init (for real), the preflight again (the rollout waits for its
    // answer): everything but realtime rolls.
    roll(&env, &[Component::Realtime]).await;
    let p = wait_database(&env, "Missing", None).await;
    let status = p.status.clone().unwrap();
    assert!(status.database_initialized_generation.is_some(), "db-init ran");
    let database = status.database.clone().unwrap();
    assert_eq!(database.reachable, Some(true));
    let wal = database.findings.iter().find(|f| f.check == "walLevel").expect("a walLevel finding");
    assert_eq!((wal.component.as_str(), wal.severity.as_str()), ("realtime", "required"));
    let role_findings: Vec<_> = database.findings.iter().filter(|f| f.check.starts_with("role:")).collect();
    assert!(role_findings.is_empty(), "db-init created every role: {role_findings:?}");

    // Realtime is not applied and says why.
    let p = eventually("the rest rolled, realtime held", patience::settle(), || async {
        let p = rec::project(&env, "demo").await;
        let s = p.status.clone().unwrap_or_default();
        let ready = s.components.values().filter(|c| c.ready).count();
        if ready + 1 == s.components.len() { Ok(p) } else { Err(format!("{:?}", s.message)) }
    })
    .await;
    let status = p.status.clone().unwrap();
    assert!(env.api::<Deployment>().get_opt("demo-realtime").await.unwrap().is_none(), "realtime was applied");
    assert_eq!(status.components["realtime"].phase.as_deref(), Some("HeldBack"));
    let message = status.message.clone().unwrap_or_default();
    assert!(message.contains("realtime is held back") && message.contains("wal_level"), "{message}");
    let c = conditions::find(&status.conditions, conditions::DATABASE_READY).unwrap();
    assert_eq!(c.status, "False");
    assert!(c.message.contains("walLevel (realtime)"), "{}", c.message);

    // What a user sees.
    let table = env.kubectl().args(["get", "supabaseproject", "demo"]).ok().await;
    let header = table.lines().next().unwrap_or_default();
    assert!(header.contains("DATABASE"), "{table}");
    assert!(table.lines().nth(1).is_some_and(|l| l.contains("Missing")), "{table}");
    let described = env.kubectl().args(["describe", "supabaseproject", "demo"]).ok().await;
    assert!(described.contains("walLevel") && described.contains("Findings"), "{described}");
    assert!(!described.contains(PASSWORD), "the password in describe");
    let reasons =
        || async { env.kubectl().args(["get", "events", "-o", "custom-columns=R:.reason", "--no-headers"]).ok().await };
    assert!(reasons().await.lines().any(|r| r.trim() == "DatabaseMissing"), "{}", reasons().await);

    // The administrator fixes the server and asks for a new check.
    let first_check = status.database.and_then(|d| d.checked_by);
    pg.restart(Flavor::SupabaseReady);
    env.kubectl()
        .args(["annotate", "supabaseproject", "demo", "supabase-operator.io/recheck-database=1", "--overwrite"])
        .ok()
        .await;
    wait_database(&env, "Ready", first_check.as_deref()).await;
    // The recheck's Job supersedes the earlier checks' Jobs, which are deleted: one is left.
    let selector = format!("app.kubernetes.io/component={}", reconciler::workloads::PREFLIGHT_COMPONENT);
    eventually("only the newest preflight Job", patience::settle(), || async {
        let jobs = env.kubectl().args(["get", "jobs", "-l", &selector, "-o", "name"]).ok().await;
        let left: Vec<&str> = jobs.lines().collect();
        let first = format!("job.batch/{}", first_check.as_deref().unwrap_or_default());
        if left.len() == 1 && !left.contains(&first.as_str()) { Ok(()) } else { Err(jobs.clone()) }
    })
    .await;
    roll(&env, &[Component::Kong, Component::Auth, Component::Rest]).await;
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    assert!(conditions::is_true(&p.status.unwrap().conditions, conditions::DATABASE_READY));
    eventually("a DatabaseReady event", patience::settle(), || async {
        let r = reasons().await;
        if r.lines().any(|l| l.trim() == "DatabaseReady") { Ok(()) } else { Err(r) }
    })
    .await;
    reconciler.stop().await;
}

#[tokio::test]
async fn the_real_postgres_meta_runs_with_the_env_the_reconciler_rendered_and_a_password_full_of_url_syntax() {
    let pg = Postgres::start(Flavor::SupabaseReady, PASSWORD);
    let env = env_for("db-meta", &pg).await;
    let reconciler = rec::start_with_database(&env, "only", Database::Real);
    wait_database(&env, "Ready", None).await;
    roll(&env, &[Component::Meta]).await;
    let deployment = rec::wait_deployment(&env, "demo", Component::Meta).await;

    let pod = deployment.spec.and_then(|s| s.template.spec).expect("a pod template");
    let fields = PodFields { name: "demo-meta-0".into(), namespace: env.namespace.clone(), ip: "127.0.0.1".into() };
    let vars = pod_env::resolve(&env.client, &env.namespace, &pod.containers[0], &fields).await;
    // The resolved env reaches the database at all only through the Secret's values.
    assert!(vars.iter().any(|(_, v)| v == PASSWORD), "the password arrives from the Secret");
    let meta = Meta::start(vars).await;
    let (code, body) = meta.get("/health").await.unwrap();
    assert_eq!(code, 200, "{body}");
    // Listing tables connects as supabase_admin with the project password.
    pg.sql("CREATE TABLE public.todos (id serial PRIMARY KEY, title text)");
    let (code, body) = meta.get("/tables?included_schemas=public").await.unwrap();
    assert_eq!(code, 200, "{body}\n{}", meta.log());
    let tables: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let names: Vec<&str> = tables.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["todos"], "{body}");
    reconciler.stop().await;
}

/// The env of `component`'s container as its pod would get it (the pod's IP is loopback).
async fn resolved(env: &TestEnv, component: Component) -> Vec<(String, String)> {
    let deployment = rec::wait_deployment(env, "demo", component).await;
    let pod = deployment.spec.and_then(|s| s.template.spec).expect("a pod template");
    let name = format!("{}-0", crds::names::component("demo", component));
    let fields = PodFields { name, namespace: env.namespace.clone(), ip: "127.0.0.1".into() };
    pod_env::resolve(&env.client, &env.namespace, &pod.containers[0], &fields).await
}

#[tokio::test]
async fn studio_s_connection_string_with_a_password_full_of_url_syntax_works_against_the_real_postgres_meta() {
    let pg = Postgres::start(Flavor::SupabaseReady, PASSWORD);
    let env = env_with("db-studio", &pg, SPEC_WITH_STUDIO).await;
    let reconciler = rec::start_with_database(&env, "only", Database::Real);
    wait_database(&env, "Ready", None).await;
    roll(&env, &[]).await;
    let meta = Meta::start(resolved(&env, Component::Meta).await).await;
    let studio = resolved(&env, Component::Studio).await;
    pg.sql("CREATE TABLE public.notes (id serial PRIMARY KEY, body text)");

    // What Studio sends, from exactly the env the reconciler gave it.
    let header = harness::studio::encrypted_connection(&studio);
    let (code, body) =
        meta.get_with("/tables?included_schemas=public", &[("x-connection-encrypted", &header)]).await.unwrap();
    assert_eq!(code, 200, "{body}\n{}", meta.log());
    let tables: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let names: Vec<&str> = tables.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["notes"], "{body}");

    // The control: the database Secret's password as it is (what Studio got before) fails,
    // so the answer above is the encoding's doing, not meta's own connection's.
    let raw: Vec<(String, String)> = studio
        .iter()
        .map(|(k, v)| (k.clone(), if k == "POSTGRES_PASSWORD" { PASSWORD.to_string() } else { v.clone() }))
        .collect();
    let header = harness::studio::encrypted_connection(&raw);
    let (code, body) =
        meta.get_with("/tables?included_schemas=public", &[("x-connection-encrypted", &header)]).await.unwrap();
    assert_ne!(code, 200, "the unencoded password worked: {body}");

    // A new database password: Studio's copy is re-derived and Studio's pods roll.
    let hash = |d: &Deployment| {
        let template = d.spec.as_ref().and_then(|s| s.template.metadata.as_ref());
        template.and_then(|m| m.annotations.as_ref()).and_then(|a| a.get(HASH).cloned()).unwrap_or_default()
    };
    let before = hash(&rec::wait_deployment(&env, "demo", Component::Studio).await);
    let patch = r#"{"stringData":{"password":"né/w@p"}}"#;
    env.kubectl().args(["patch", "secret", "db", "--type=merge", "-p", patch]).ok().await;
    eventually("Studio's password re-derived and its pods rolled", patience::settle(), || async {
        let secrets = env.api::<k8s_openapi::api::core::v1::Secret>();
        let internal = secrets.get("demo-internal").await.map_err(|e| e.to_string())?;
        let copy = internal.data.unwrap_or_default().get("studioPostgresPassword").map(|b| b.0.clone());
        let now = hash(&rec::wait_deployment(&env, "demo", Component::Studio).await);
        // n, é as the two bytes C3 A9, /, w, @, p.
        if copy.as_deref() == Some(b"n%C3%A9%2Fw%40p".as_slice()) && now != before {
            Ok(())
        } else {
            Err(format!("copy {:?}, hash changed: {}", copy.map(|c| c.len()), now != before))
        }
    })
    .await;
    reconciler.stop().await;
}

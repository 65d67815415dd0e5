//! A new project rolls out one component at a time, in catalog order, and ends
//! Running with its conditions, endpoints, generated keys and events.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crds::conditions;
use crds::jwt::{self, Role};
use crds::{CATALOG, Component, Phase};
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, deployments, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::ResourceExt;
use kube::api::ListParams;

async fn names_of<K>(env: &TestEnv, component: &str) -> Vec<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/component={component}"));
    env.api::<K>().list(&lp).await.expect("list").into_iter().map(|o| o.name_any()).collect()
}

async fn assert_nothing_of(env: &TestEnv, component: Component) {
    let c = component.name();
    assert!(names_of::<Deployment>(env, c).await.is_empty(), "{c} has a Deployment too early");
    assert!(names_of::<Service>(env, c).await.is_empty(), "{c} has a Service too early");
    assert!(names_of::<ConfigMap>(env, c).await.is_empty(), "{c} has a ConfigMap too early");
}

fn text(secret: &Secret, key: &str) -> String {
    let data = secret.data.clone().unwrap_or_default();
    String::from_utf8(data.get(key).map(|b| b.0.clone()).unwrap_or_default()).expect("utf-8")
}

#[tokio::test]
async fn components_roll_out_one_at_a_time_in_catalog_order_then_run() {
    let env = rec::project_env("rollout-order", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    let deployments_api = env.api::<Deployment>();
    // imgproxy, Studio and Edge Functions are opt-in.
    let enabled: Vec<Component> = CATALOG.iter().filter(|e| e.enabled_by_default).map(|e| e.component).collect();

    for (i, c) in enabled.iter().enumerate() {
        rec::wait_deployment(&env, "demo", *c).await;
        // The status follows at the end of the reconcile that applied the component: once
        // it shows, that reconcile is over, and whatever it applied is there to see.
        let expected = format!("waiting for {}: 0/1 ready", c.name());
        let status = rec::eventually(&expected, patience::settle(), || async {
            let status = rec::project(&env, "demo").await.status.unwrap_or_default();
            if status.message.as_deref() == Some(expected.as_str()) { Ok(status) } else { Err(format!("{status:?}")) }
        })
        .await;
        // And a moment for a later reconcile (its own writes' echoes trigger one) to
        // (wrongly) go further before looking.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for later in &enabled[i + 1..] {
            assert_nothing_of(&env, *later).await;
        }
        assert_eq!(status.phase, Some(Phase::DeployingComponents));
        assert_eq!(status.ready_components, Some(format!("{i}/{}", enabled.len())));
        assert!(!names_of::<Service>(&env, c.name()).await.is_empty(), "{c} has no Service");
        deployments::mark_ready(&deployments_api, &crds::names::component("demo", *c)).await.expect("mark ready");
    }

    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    let status = p.status.clone().unwrap_or_default();
    assert!(conditions::is_true(&status.conditions, conditions::READY));
    assert!(conditions::is_true(&status.conditions, conditions::AVAILABLE));
    assert!(conditions::is_true(&status.conditions, conditions::SECRETS_READY));
    assert!(conditions::is_true(&status.conditions, conditions::DATABASE_INITIALIZED));
    assert!(!conditions::is_true(&status.conditions, conditions::PROGRESSING));
    assert!(!conditions::is_true(&status.conditions, conditions::DEGRADED));
    for c in &enabled {
        assert!(conditions::is_true(&status.conditions, &c.entry().condition_type()), "{c} condition");
        assert!(status.components[c.name()].ready, "{c} not ready");
    }
    assert!(conditions::find(&status.conditions, "StudioReady").is_none());
    assert!(conditions::find(&status.conditions, "ImgproxyReady").is_none());
    assert!(conditions::find(&status.conditions, "FunctionsReady").is_none());
    assert_eq!(status.ready_components.as_deref(), Some("6/6"));
    assert_eq!(status.endpoints["api"], "https://api.example.com");
    assert_eq!(status.endpoints["kong"], format!("http://demo-kong.{}.svc:8000", env.namespace));
    assert_eq!(status.endpoints.len(), 7, "{:?}", status.endpoints);

    // Studio, imgproxy and Edge Functions are disabled by default: none of their objects exist.
    assert_nothing_of(&env, Component::Studio).await;
    assert_nothing_of(&env, Component::Imgproxy).await;
    assert_nothing_of(&env, Component::Functions).await;

    // Every owned object has the labels and a controller owner reference to the project.
    let uid = p.uid().unwrap();
    let lp = ListParams::default().labels("app.kubernetes.io/instance=demo");
    let mut owned: Vec<(String, BTreeMap<String, String>, Vec<_>)> = Vec::new();
    for d in env.api::<Deployment>().list(&lp).await.unwrap() {
        owned.push((d.name_any(), d.labels().clone(), d.owner_references().to_vec()));
    }
    for s in env.api::<Service>().list(&lp).await.unwrap() {
        owned.push((s.name_any(), s.labels().clone(), s.owner_references().to_vec()));
    }
    for s in env.api::<Secret>().list(&lp).await.unwrap() {
        owned.push((s.name_any(), s.labels().clone(), s.owner_references().to_vec()));
    }
    assert!(owned.len() >= 6 * 2 + 2, "{:?}", owned.iter().map(|o| &o.0).collect::<Vec<_>>());
    for (name, labels, owners) in &owned {
        assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("supabase-operator"), "{name}");
        assert_eq!(labels.get("app.kubernetes.io/name").map(String::as_str), Some("supabase"), "{name}");
        assert!(labels.contains_key("app.kubernetes.io/component"), "{name}");
        assert!(owners.iter().any(|o| o.uid == uid && o.controller == Some(true)), "{name} not owned");
    }

    // Events: the generated Secrets and arriving at Running; the steps between are in
    // the status, not repeated as events.
    // (The Running event follows the status write the wait above saw.)
    rec::eventually("the events", Duration::from_secs(10), || async {
        let events = env.kubectl().args(["get", "events", "-o", "custom-columns=R:.reason", "--no-headers"]).ok().await;
        let mut reasons: Vec<&str> = events.lines().map(str::trim).collect();
        reasons.sort_unstable();
        if reasons == ["Running", "SecretGenerated"] { Ok(()) } else { Err(events.clone()) }
    })
    .await;
    reconciler.stop().await;
}

#[tokio::test]
async fn generated_keys_verify_the_upstream_way_and_survive_reconciles() {
    let env = rec::project_env("generated-keys", "demo", MINIMAL_SPEC).await;
    let reconciler = rec::start(&env, "only");
    rec::wait_deployment(&env, "demo", Component::Kong).await;

    let secrets = env.api::<Secret>();
    let jwt_secret = secrets.get("demo-jwt").await.expect("demo-jwt generated");
    let secret = text(&jwt_secret, "secret");
    assert!(secret.len() >= 40, "JWT secret has {} characters", secret.len());
    let now = chrono_now();
    for (key, role) in [("anonKey", Role::Anon), ("serviceKey", Role::ServiceRole)] {
        let claims = jwt::verify(&secret, &text(&jwt_secret, key), role, now).expect("key verifies with raw secret");
        assert_eq!(claims.iss.as_deref(), Some("supabase"));
        let exp = claims.exp.unwrap();
        assert!(exp > now + 5 * 365 * 24 * 3600 - 60, "expires too soon: {exp}");
        assert!(claims.iat.is_some_and(|iat| (iat - now).abs() < 120));
    }
    let internal = secrets.get("demo-internal").await.expect("demo-internal generated");
    assert_eq!(text(&internal, "secretKeyBase").len(), 64);
    assert_eq!(text(&internal, "dbEncKey").len(), 16);
    assert!(text(&internal, "cryptoKey").len() >= 32);

    // Another reconcile (an annotation change triggers one) and a restart keep every key.
    rec::wait_phase(&env, "demo", Phase::DeployingComponents).await;
    reconciler
        .reconciled_after(async {
            env.kubectl().args(["annotate", "sbp", "demo", "touched=1"]).ok().await;
        })
        .await;
    reconciler.stop().await;
    let again = rec::start(&env, "second");
    deployments::mark_ready(&env.api(), "demo-kong").await.expect("mark ready");
    rec::wait_deployment(&env, "demo", Component::Auth).await;
    assert_eq!(secrets.get("demo-jwt").await.unwrap().data, jwt_secret.data);
    assert_eq!(secrets.get("demo-internal").await.unwrap().data, internal.data);
    again.stop().await;
}

/// Generated Secrets that exist before the project's first reconcile (made by hand,
/// restored from a backup) keep every value they hold and gain only what they lack.
#[tokio::test]
async fn generated_secrets_made_beforehand_keep_their_values_and_gain_the_missing_keys() {
    let env = TestEnv::new("generated-beforehand").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    let secrets = env.api::<Secret>();
    let existing = "a-jwt-secret-made-by-hand-0123456789-abcdefghij";
    let pp = kube::api::PostParams::default();
    let jwt_before = harness::fixtures::secret("demo-jwt", &[("secret", existing)]);
    secrets.create(&pp, &jwt_before).await.expect("create demo-jwt");
    // An empty value counts as missing.
    let internal_before =
        harness::fixtures::secret("demo-internal", &[("dbEncKey", "0123456789abcdef"), ("secretKeyBase", "")]);
    secrets.create(&pp, &internal_before).await.expect("create demo-internal");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", MINIMAL_SPEC)).ok().await;

    let reconciler = rec::start(&env, "only");
    rec::wait_deployment(&env, "demo", Component::Kong).await;
    let jwt_secret = secrets.get("demo-jwt").await.unwrap();
    assert_eq!(text(&jwt_secret, "secret"), existing);
    let now = chrono_now();
    for (key, role) in [("anonKey", Role::Anon), ("serviceKey", Role::ServiceRole)] {
        jwt::verify(existing, &text(&jwt_secret, key), role, now).expect("signed with the existing secret");
    }
    let internal = secrets.get("demo-internal").await.unwrap();
    assert_eq!(text(&internal, "dbEncKey"), "0123456789abcdef");
    assert_eq!(text(&internal, "secretKeyBase").len(), 64);
    assert!(text(&internal, "cryptoKey").len() >= 32);
    // Completed, not taken over: the reconciler adds keys and nothing else.
    assert_eq!(jwt_secret.labels(), jwt_before.labels());
    assert!(internal.owner_references().is_empty());
    let events = env.kubectl().args(["get", "events", "-o", "custom-columns=M:.message"]).ok().await;
    assert!(events.contains("added keys anonKey, serviceKey to Secret demo-jwt"), "{events}");
    assert!(!events.contains("generated Secret"), "{events}");

    // Later reconciles change nothing.
    rec::wait_phase(&env, "demo", Phase::DeployingComponents).await;
    reconciler
        .reconciled_after(async {
            env.kubectl().args(["annotate", "sbp", "demo", "touched=1"]).ok().await;
        })
        .await;
    assert_eq!(secrets.get("demo-jwt").await.unwrap().data, jwt_secret.data);
    assert_eq!(secrets.get("demo-internal").await.unwrap().data, internal.data);
    reconciler.stop().await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[tokio::test]
async fn a_component_scaled_to_zero_counts_as_ready() {
    let spec = format!("{MINIMAL_SPEC}components:\n  kong:\n    replicas: 0\n");
    let env = rec::project_env("scaled-to-zero", "demo", &spec).await;
    let reconciler = rec::start(&env, "only");
    // Kong is never marked ready, yet Auth follows it.
    let kong = rec::wait_deployment(&env, "demo", Component::Kong).await;
    assert_eq!(kong.spec.and_then(|s| s.replicas), Some(0));
    rec::wait_deployment(&env, "demo", Component::Auth).await;
    let p = rec::wait_phase(&env, "demo", Phase::DeployingComponents).await;
    let status = p.status.unwrap_or_default();
    assert!(status.components["kong"].ready);
    assert_eq!(status.message.as_deref(), Some("waiting for auth: 0/1 ready"));
    reconciler.stop().await;
}

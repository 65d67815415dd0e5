//! A spec that could not have passed admission (a referenced Secret is missing) gives
//! phase Failed with a clear message, backs off instead of spinning, and recovers as
//! soon as the Secret appears.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use crds::{Phase, SupabaseProject, conditions};
use harness::TestEnv;
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::ListParams;
use reconciler::Outcome;

#[tokio::test]
async fn missing_secret_fails_with_backoff_and_recovers_when_it_appears() {
    let env = TestEnv::new("failed-spec").await.expect("test cluster");
    harness::crd::install(&env.client).await.expect("install CRD");
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", MINIMAL_SPEC)).ok().await;
    let reconciler = rec::start(&env, "only");

    let p = rec::wait_phase(&env, "demo", Phase::Failed).await;
    let status = p.status.clone().unwrap_or_default();
    let message = status.message.clone().unwrap_or_default();
    assert!(message.contains("spec.database.secretRef") && message.contains("Secret \"db\" not found"), "{message}");
    assert!(!conditions::is_true(&status.conditions, conditions::SECRETS_READY));
    assert!(!conditions::is_true(&status.conditions, conditions::READY));
    assert!(env.api::<Deployment>().list(&ListParams::default()).await.unwrap().items.is_empty());

    // No tight loop: over 5 s, a handful of backed-off retries and no status rewrites.
    let rv = p.metadata.resource_version.clone();
    let before = reconciler.metrics.reconcile_count(Outcome::Failed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let retries = reconciler.metrics.reconcile_count(Outcome::Failed) - before;
    assert!(retries <= 4, "{retries} reconciles in 5 s: not backing off");
    let again: SupabaseProject = env.api().get("demo").await.unwrap();
    assert_eq!(again.metadata.resource_version, rv, "status rewritten while nothing changed");
    let warnings = env.kubectl().args(["get", "events", "--field-selector", "type=Warning", "-o", "name"]).ok().await;
    assert!(!warnings.trim().is_empty(), "no Warning event for the failure");

    // The Secret appears: the watch on referenced Secrets reconciles at once.
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "secret")).ok().await;
    rec::wait_deployment(&env, "demo", crds::Component::Kong).await;
    let p = rec::wait_phase(&env, "demo", Phase::DeployingComponents).await;
    assert!(conditions::is_true(&p.status.unwrap_or_default().conditions, conditions::SECRETS_READY));
    reconciler.stop().await;
}

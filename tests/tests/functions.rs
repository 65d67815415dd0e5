//! Edge Functions on the real apiserver: opt-in, rolled out after every other component
//! (Studio included), owned by the project and garbage-collected with it, removed when
//! disabled; a change to the user's code ConfigMap rolls the runtime's pods; Kong routes
//! `/functions/v1/` only while Functions run; a settled project gets no writes.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crds::{CATALOG, Component, Phase, SupabaseProject};
use harness::reconciler::{self as rec, MINIMAL_SPEC};
use harness::{TestEnv, deployments, patience};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const FUNCTIONS: &str = "demo-functions";
const CODE: &str = "fn-code";
const ROUTE: &str = "/functions/v1/";

/// The project's spec with Functions running the code of [`CODE`] (and Studio, when asked).
fn spec(studio: bool) -> String {
    let studio = if studio { "  studio:\n    enabled: true\n" } else { "" };
    format!(
        "{MINIMAL_SPEC}components:\n{studio}  functions:\n    enabled: true\n    code:\n      configMap:\n        \
         name: {CODE}\n        items:\n        - key: hello.ts\n          path: hello/index.ts\n"
    )
}

async fn create_code(env: &TestEnv, body: &str) {
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta { name: Some(CODE.into()), ..Default::default() },
        data: Some(BTreeMap::from([("hello.ts".to_string(), body.to_string())])),
        ..Default::default()
    };
    env.api::<ConfigMap>().create(&PostParams::default(), &cm).await.expect("create the code ConfigMap");
}

/// Names of the objects of `K` labelled as the component `c`.
async fn names_of<K>(env: &TestEnv, c: &str) -> Vec<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/component={c}"));
    env.api::<K>().list(&lp).await.expect("list").into_iter().map(|o| o.name_any()).collect()
}

/// Every Deployment, Service and ConfigMap labelled as Functions'.
async fn functions_objects(env: &TestEnv) -> Vec<String> {
    let mut out = names_of::<Deployment>(env, "functions").await;
    out.extend(names_of::<Service>(env, "functions").await);
    out.extend(names_of::<ConfigMap>(env, "functions").await);
    out
}

/// Whether Kong's ConfigMap routes [`ROUTE`] (in any of its files).
async fn kong_routes_functions(env: &TestEnv) -> bool {
    let kong = env.api::<ConfigMap>().get("demo-kong").await.expect("Kong's ConfigMap");
    kong.data.unwrap_or_default().values().any(|v| v.contains(ROUTE))
}

async fn until_kong_routes_functions(env: &TestEnv, want: bool) {
    rec::eventually(&format!("Kong routes {ROUTE}: {want}"), patience::settle(), || async {
        if kong_routes_functions(env).await == want { Ok(()) } else { Err(format!("{}", !want)) }
    })
    .await;
}

/// Plays the Deployment controller until the project is Running at its generation: marks
/// ready each enabled component's Deployment not yet rolled out at its current generation
/// (a changed Kong config rolls Kong before the rollout goes on, so there is no order to
/// wait for here).
async fn ready_until_running(env: &TestEnv) -> SupabaseProject {
    let api = env.api::<Deployment>();
    rec::eventually("Running after an update", patience::settle(), || async {
        let p = rec::project(env, "demo").await;
        for e in CATALOG.iter().filter(|e| p.spec.enabled(e.component)) {
            let name = crds::names::component("demo", e.component);
            if api.get_opt(&name).await.unwrap().is_some_and(|d| !deployments::rolled_out(&d)) {
                deployments::mark_ready(&api, &name).await.unwrap();
            }
        }
        let status = p.status.clone().unwrap_or_default();
        let settled = status.phase == Some(Phase::Running) && status.observed_generation == p.metadata.generation;
        if settled { Ok(p) } else { Err(format!("{:?}: {:?}", status.phase, status.message)) }
    })
    .await
}

fn template(d: &Deployment) -> serde_json::Value {
    serde_json::to_value(&d.spec.as_ref().expect("spec").template).expect("template")
}

fn owned_by_demo(meta: &kube::api::ObjectMeta, project: &SupabaseProject) {
    let name = meta.name.clone().unwrap_or_default();
    let refs = meta.owner_references.clone().unwrap_or_default();
    assert!(
        refs.iter().any(|r| Some(&r.uid) == project.metadata.uid.as_ref() && r.controller == Some(true)),
        "{name}: {refs:?}"
    );
    let labels = meta.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("supabase-operator"), "{name}");
    assert_eq!(labels.get("app.kubernetes.io/instance").map(String::as_str), Some("demo"), "{name}");
    assert_eq!(labels.get("app.kubernetes.io/component").map(String::as_str), Some("functions"), "{name}");
}

#[tokio::test]
async fn functions_roll_out_last_are_owned_roll_with_their_code_and_go_with_the_project() {
    let env = rec::project_env("functions-last", "demo", &spec(true)).await;
    create_code(&env, "export default () => new Response('one')\n").await;
    let reconciler = rec::start(&env, "first");
    let deployments_api = env.api::<Deployment>();
    let project = rec::project(&env, "demo").await;
    let order: Vec<Component> = CATALOG.iter().map(|e| e.component).filter(|c| project.spec.enabled(*c)).collect();
    assert_eq!(order.last(), Some(&Component::Functions), "the catalog puts Functions last: {order:?}");
    assert!(order.contains(&Component::Studio));

    for (i, c) in order.iter().enumerate() {
        rec::wait_deployment(&env, "demo", *c).await;
        // Once the status names the component, the reconcile that applied it is over.
        let expected = format!("waiting for {}: 0/1 ready", c.name());
        rec::eventually(&expected, patience::settle(), || async {
            let status = rec::project(&env, "demo").await.status.unwrap_or_default();
            if status.message.as_deref() == Some(expected.as_str()) { Ok(()) } else { Err(format!("{status:?}")) }
        })
        .await;
        if *c != Component::Functions {
            // A moment for a later reconcile (its own writes' echoes trigger one) to
            // (wrongly) go further before looking.
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(functions_objects(&env).await.is_empty(), "Functions before {c} ({i}) was ready");
        }
        deployments::mark_ready(&deployments_api, &crds::names::component("demo", *c)).await.expect("mark ready");
    }
    let p = rec::wait_phase(&env, "demo", Phase::Running).await;
    let status = p.status.clone().unwrap_or_default();
    assert!(crds::conditions::is_true(&status.conditions, "FunctionsReady"), "{:?}", status.conditions);
    assert_eq!(status.ready_components, Some(format!("{0}/{0}", order.len())));

    // Owned and labelled: the Deployment, its Service and the main service's ConfigMap.
    let d = deployments_api.get(FUNCTIONS).await.unwrap();
    owned_by_demo(&d.metadata, &p);
    owned_by_demo(&env.api::<Service>().get(FUNCTIONS).await.unwrap().metadata, &p);
    let maps: Vec<ConfigMap> = env
        .api::<ConfigMap>()
        .list(&ListParams::default().labels("app.kubernetes.io/component=functions"))
        .await
        .unwrap()
        .items;
    assert!(!maps.is_empty(), "the main service's ConfigMap");
    maps.iter().for_each(|m| owned_by_demo(&m.metadata, &p));
    // The user's code is theirs: neither owned nor labelled by the operator.
    let code = env.api::<ConfigMap>().get(CODE).await.unwrap();
    assert!(code.owner_references().is_empty() && code.labels().is_empty(), "{:?}", code.metadata);
    assert!(kong_routes_functions(&env).await, "Kong does not route {ROUTE}");

    // New code rolls the runtime's pods (a new pod template); Kong's stay as they are.
    let (before, kong_before) = (template(&d), template(&deployments_api.get("demo-kong").await.unwrap()));
    let new_code = json!({"data": {"hello.ts": "export default () => new Response('two')\n"}});
    env.api::<ConfigMap>().patch(CODE, &PatchParams::default(), &Patch::Merge(&new_code)).await.unwrap();
    rec::eventually("a new Functions pod template", patience::settle(), || async {
        let now = template(&deployments_api.get(FUNCTIONS).await.unwrap());
        if now != before { Ok(()) } else { Err("the same template".to_string()) }
    })
    .await;
    let kong_after = template(&deployments_api.get("demo-kong").await.unwrap());
    assert_eq!(kong_after, kong_before, "Kong rolled for a change of the functions' code");
    deployments::mark_ready(&deployments_api, FUNCTIONS).await.unwrap();
    rec::wait_phase(&env, "demo", Phase::Running).await;
    reconciler.stop().await;

    // Settled: a new reconciler writes nothing (its verification may read and dry-run).
    let writes = rec::writes_of_a_fresh_start(&env).await;
    assert!(writes.is_empty(), "writes to a settled project with Functions: {writes:?}");

    // Garbage-collected with the project (no reconciler runs now); the user's code stays.
    env.api::<SupabaseProject>().delete("demo", &Default::default()).await.unwrap();
    rec::eventually("Functions' objects collected", patience::settle(), || async {
        let left = functions_objects(&env).await;
        if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
    })
    .await;
    assert!(env.api::<ConfigMap>().get_opt(CODE).await.unwrap().is_some(), "the user's code was deleted");
}

#[tokio::test]
async fn functions_are_off_by_default_and_come_and_go_with_enabled() {
    let env = rec::project_env("functions-toggle", "demo", MINIMAL_SPEC).await;
    create_code(&env, "export default () => new Response('hi')\n").await;
    let reconciler = rec::start(&env, "only");
    let p = rec::roll_to_running(&env, "demo").await;
    assert!(!p.spec.enabled(Component::Functions), "defaulted off");
    assert!(functions_objects(&env).await.is_empty(), "Functions deployed while disabled");
    assert!(!kong_routes_functions(&env).await, "Kong routes {ROUTE} without Functions");
    let kong_template = template(&env.api::<Deployment>().get("demo-kong").await.unwrap());

    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", &spec(false))).ok().await;
    until_kong_routes_functions(&env, true).await;
    let p = ready_until_running(&env).await;
    assert!(p.status.unwrap_or_default().components["functions"].ready);
    assert_eq!(functions_objects(&env).await.len(), 3, "Deployment, Service, main service's ConfigMap");
    let kong_with = template(&env.api::<Deployment>().get("demo-kong").await.unwrap());
    assert_ne!(kong_with, kong_template, "Kong reads its routes once at start: a new route must roll it");

    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", MINIMAL_SPEC)).ok().await;
    rec::eventually("Functions removed", patience::settle(), || async {
        let left = functions_objects(&env).await;
        if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
    })
    .await;
    until_kong_routes_functions(&env, false).await;
    let p = ready_until_running(&env).await;
    let status = p.status.unwrap_or_default();
    assert!(!status.components.contains_key("functions"));
    assert!(crds::conditions::find(&status.conditions, "FunctionsReady").is_none());
    assert!(env.api::<ConfigMap>().get_opt(CODE).await.unwrap().is_some(), "the user's code was deleted");
    reconciler.stop().await;
}

//! `spec.gateway` on the real apiserver: the Ingress and the HTTPRoute (against the Gateway
//! API's released CRD) are rendered for the URL's host, reach the Kong Service the
//! reconciler made, are owned, cost no write at steady state, go when their field goes
//! and with the project; `status.url` follows. Without the Gateway API CRDs a project that
//! asks for an HTTPRoute still runs, says why nothing routes, and gets its route once the
//! CRDs are installed.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::SupabaseProject;
use harness::reconciler::{self as rec};
use harness::{ControlPlane, TestEnv, patience};
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

const INGRESS_SPEC: &str = "apiExternalUrl: https://api.example.com/\ndatabase:\n  secretRef:\n    name: db\n\
gateway:\n  ingress:\n    className: nginx\n    annotations: {example.com/team: a}\n    \
tls: {secretName: api-tls, clusterIssuer: letsencrypt}\n";

const ROUTE_SPEC: &str = "apiExternalUrl: https://api.example.com\ndatabase:\n  secretRef:\n    name: db\n\
gateway:\n  httpRoute:\n    parentRefs: [{name: public, namespace: gateways, sectionName: https}]\n";

fn routes(env: &TestEnv) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute");
    Api::namespaced_with(env.client.clone(), &env.namespace, &ApiResource::from_gvk(&gvk))
}

/// The Kong Service the reconciler made, as (name, port): what the gateway must reach.
async fn kong_service(env: &TestEnv) -> (String, i32) {
    let svc: Service = rec::eventually("the Kong Service", patience::settle(), || async {
        env.api::<Service>().get_opt("demo-kong").await.unwrap().ok_or_else(|| "absent".to_string())
    })
    .await;
    (svc.name_any(), svc.spec.unwrap().ports.unwrap()[0].port)
}

fn assert_owned(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, project: &SupabaseProject) {
    let owner = &meta.owner_references.as_ref().expect("owner references")[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("SupabaseProject", "demo"));
    assert_eq!(Some(owner.uid.clone()), project.uid());
    assert_eq!(owner.controller, Some(true));
    let labels = meta.labels.clone().unwrap_or_default();
    for (k, v) in [
        ("app.kubernetes.io/name", "supabase"),
        ("app.kubernetes.io/instance", "demo"),
        ("app.kubernetes.io/managed-by", "supabase-operator"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
    }
    let managers: Vec<_> = meta.managed_fields.iter().flatten().filter_map(|m| m.manager.clone()).collect();
    assert_eq!(managers, ["supabase-operator"], "one field manager");
}

async fn wait_url(env: &TestEnv, want: Option<&str>) -> SupabaseProject {
    rec::eventually(&format!("status.url {want:?}"), patience::settle(), || async {
        let p = rec::project(env, "demo").await;
        let url = p.status.as_ref().and_then(|s| s.url.clone());
        if url.as_deref() == want { Ok(p) } else { Err(format!("{url:?}")) }
    })
    .await
}

fn exposed(p: &SupabaseProject) -> Option<(String, String)> {
    let c = crds::conditions::find(&p.status.as_ref()?.conditions, "Exposed")?;
    Some((c.status.clone(), c.reason.clone()))
}

/// Writes (not Lease renewals, not dry runs) a running project costs while the
/// reconciler reconciles it again with nothing changed.
async fn steady_writes(env: &TestEnv, running: &rec::Running, recorder: &harness::writes::Recorder) -> Vec<String> {
    let before = recorder.writes().len();
    running
        .reconciled_after(async {
            env.kubectl().args(["annotate", "sbp", "demo", "example.com/poke=1", "--overwrite"]).ok().await;
        })
        .await;
    recorder.writes()[before..]
        .iter()
        .filter(|w| !w.is_lease() && !w.is_dry_run())
        .map(|w| format!("{} {}", w.method, w.path))
        .collect()
}

async fn wait_gone<F, Fut>(what: &str, exists: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    rec::eventually(what, patience::settle(), || async {
        if exists().await { Err("still there".to_string()) } else { Ok(()) }
    })
    .await;
}

/// Removing `spec.gateway` deletes `demo-api` and the URL; applying `spec` again brings
/// it back, and deleting the project has the garbage collector take it. The project as it
/// stood with the field removed.
async fn removed_restored_and_collected<K>(env: &TestEnv, api: &Api<K>, kind: &str, spec: &str) -> SupabaseProject
where
    K: Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    env.kubectl()
        .args(["patch", "sbp", "demo", "--type=json", "-p", r#"[{"op":"remove","path":"/spec/gateway"}]"#])
        .ok()
        .await;
    wait_gone(&format!("the {kind} deleted"), || async { api.get_opt("demo-api").await.unwrap().is_some() }).await;
    let removed = wait_url(env, None).await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", spec)).ok().await;
    rec::eventually(&format!("the {kind} again"), patience::settle(), || async {
        api.get_opt("demo-api").await.unwrap().ok_or_else(|| "absent".to_string())
    })
    .await;
    env.kubectl().args(["delete", "sbp", "demo", "--wait=false"]).ok().await;
    wait_gone(&format!("the {kind} collected"), || async { api.get_opt("demo-api").await.unwrap().is_some() }).await;
    removed
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ingress_routes_the_url_host_to_kong_and_goes_with_its_field_and_the_project() {
    let env = rec::project_env("gateway-ingress", "demo", INGRESS_SPEC).await;
    let (running, recorder) = rec::start_recorded(&env, "only").await;
    let ingresses = env.api::<Ingress>();
    let (service, port) = kong_service(&env).await;
    let ing: Ingress = rec::eventually("the Ingress", patience::settle(), || async {
        ingresses.get_opt("demo-api").await.unwrap().ok_or_else(|| "absent".to_string())
    })
    .await;
    let project = rec::roll_to_running(&env, "demo").await;
    assert_owned(&ing.metadata, &project);
    let a = ing.metadata.annotations.clone().unwrap();
    assert_eq!(a.get("cert-manager.io/cluster-issuer").map(String::as_str), Some("letsencrypt"));
    assert_eq!(a.get("example.com/team").map(String::as_str), Some("a"));
    assert_eq!(a.get("nginx.ingress.kubernetes.io/proxy-read-timeout").map(String::as_str), Some("3600"));
    let spec = ing.spec.clone().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let tls = &spec.tls.unwrap()[0];
    assert_eq!(
        (tls.hosts.clone().unwrap(), tls.secret_name.as_deref()),
        (vec!["api.example.com".to_string()], Some("api-tls"))
    );
    let rule = &spec.rules.unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("api.example.com"));
    let path = &rule.http.as_ref().unwrap().paths[0];
    assert_eq!((path.path.as_deref(), path.path_type.as_str()), (Some("/"), "Prefix"));
    let backend = path.backend.service.clone().unwrap();
    assert_eq!((backend.name, backend.port.unwrap().number.unwrap()), (service, port));

    let p = wait_url(&env, Some("https://api.example.com")).await;
    assert_eq!(exposed(&p), Some(("True".into(), "IngressApplied".into())));
    let writes = steady_writes(&env, &running, &recorder).await;
    assert!(writes.is_empty(), "writes at steady state: {writes:?}");

    // Removing the field removes the Ingress and the URL; back again, then the project goes.
    let p = removed_restored_and_collected(&env, &ingresses, "Ingress", INGRESS_SPEC).await;
    assert_eq!(exposed(&p), None);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_http_route_is_valid_for_the_gateway_api_crd_and_goes_with_its_field_and_the_project() {
    let env = TestEnv::new("gateway-route").await.unwrap();
    harness::crd::install_gateway_api(&env.client).await.unwrap();
    let env = {
        harness::crd::install(&env.client).await.unwrap();
        env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
        env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", ROUTE_SPEC)).ok().await;
        env
    };
    let (running, recorder) = rec::start_recorded(&env, "only").await;
    let (service, port) = kong_service(&env).await;
    let routes = routes(&env);
    let route = rec::eventually("the HTTPRoute", patience::settle(), || async {
        routes.get_opt("demo-api").await.unwrap().ok_or_else(|| "absent".to_string())
    })
    .await;
    let project = rec::roll_to_running(&env, "demo").await;
    assert_owned(&route.metadata, &project);
    let spec = &route.data["spec"];
    assert_eq!(spec["hostnames"], serde_json::json!(["api.example.com"]));
    let parent = &spec["parentRefs"][0];
    assert_eq!(
        (parent["name"].as_str(), parent["namespace"].as_str(), parent["sectionName"].as_str()),
        (Some("public"), Some("gateways"), Some("https"))
    );
    // The CRD's defaults, filled by the apiserver: the route went through its schema.
    assert_eq!(
        (parent["group"].as_str(), parent["kind"].as_str()),
        (Some("gateway.networking.k8s.io"), Some("Gateway"))
    );
    let rule = &spec["rules"][0];
    assert_eq!(rule["matches"][0]["path"], serde_json::json!({"type": "PathPrefix", "value": "/"}));
    assert_eq!(
        (rule["backendRefs"][0]["name"].as_str(), rule["backendRefs"][0]["port"].as_i64()),
        (Some(service.as_str()), Some(port as i64))
    );

    let p = wait_url(&env, Some("https://api.example.com")).await;
    assert_eq!(exposed(&p), Some(("True".into(), "HTTPRouteApplied".into())));
    let writes = steady_writes(&env, &running, &recorder).await;
    assert!(writes.is_empty(), "writes at steady state: {writes:?}");

    removed_restored_and_collected(&env, &routes, "HTTPRoute", ROUTE_SPEC).await;
    running.stop().await;
}

/// Its own control plane: the shared one has the Gateway API CRDs once the test above ran.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_gateway_api_crds_the_project_runs_says_why_and_gets_its_route_once_they_are_installed() {
    let dir = tempfile::Builder::new().prefix("gateway-no-crd-").tempdir().unwrap();
    let plane = tokio::task::block_in_place(|| ControlPlane::start(dir.path())).unwrap();
    let client = harness::client(plane.kubeconfig()).await.unwrap();
    harness::crd::install(&client).await.unwrap();
    let env = TestEnv { client: client.clone(), namespace: "default".into(), kubeconfig: plane.kubeconfig().into() };
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::db_secret("db", "pw")).ok().await;
    env.kubectl().args(["apply", "-f", "-"]).stdin(rec::admitted("demo", ROUTE_SPEC)).ok().await;
    let running = rec::start(&env, "only");

    // Every component rolls out; the project runs, and says why nothing routes to it.
    let p = rec::roll_to_running(&env, "demo").await;
    assert_eq!(exposed(&p), Some(("False".into(), "GatewayAPIMissing".into())), "{:?}", p.status);
    assert_eq!(p.status.as_ref().unwrap().url, None);
    let events: Api<Event> = env.api();
    rec::eventually("a Warning event", patience::settle(), || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        let found = list.items.iter().any(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("GatewayAPIMissing")
                && e.involved_object.name.as_deref() == Some("demo")
        });
        if found { Ok(()) } else { Err(format!("{} events", list.items.len())) }
    })
    .await;

    // The CRDs arrive: the watch starts and the project gets its route, without a restart.
    harness::crd::install_gateway_api(&client).await.unwrap();
    let poll = reconciler::HTTP_ROUTE_POLL;
    let routes = routes(&env);
    rec::eventually("the HTTPRoute after the CRD", patience::after(poll * 2), || async {
        routes.get_opt("demo-api").await.unwrap().ok_or_else(|| "absent".to_string())
    })
    .await;
    let p = wait_url(&env, Some("https://api.example.com")).await;
    assert_eq!(exposed(&p), Some(("True".into(), "HTTPRouteApplied".into())));
    running.stop().await;
    drop(plane);
}

//! The webhook's own cost per review, without TLS or HTTP: the very `Parsed::read`,
//! `Admission::answer` and `review::body` the server calls, on one thread,
//! with Secrets in a watch-cache store and access answers cached (as they are after the
//! first review). This is the floor the TLS figures sit on.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{reflector, watcher};
use serde_json::{Value, json};
use webhook::access::AccessChecker;
use webhook::admission::{Admission, Endpoint, Parsed};
use webhook::lookup::Secrets;
use webhook::metrics::Metrics;
use webhook::policy::{Policy, PolicyHandle};
use webhook::review;

/// The namespace of the sample review.
pub const NAMESPACE: &str = "bench";

/// Microseconds per review for each step, and for the whole answer.
#[derive(Debug)]
pub struct Costs {
    /// Reading and checking the review as `/validate` does, the spec typed.
    pub parse_us: f64,
    /// `/mutate`: parse, defaults patch, answer.
    pub mutate_us: f64,
    /// `/validate` of the admitted review: parse, every rule, answer.
    pub validate_us: f64,
    /// `/validate` of the review as `kubectl` sent it, before `/mutate` filled the
    /// defaults (the benchmark's `/validate` review until December 2026).
    pub validate_sent_us: f64,
}

/// Every access review is allowed: the benchmark measures the webhook, not RBAC.
async fn allow_all(_: http::Request<kube::client::Body>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let body = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {}, "status": {"allowed": true}
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = http::Response::new(Full::new(Bytes::from(bytes)));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(response)
}

/// An `admission.k8s.io/v1` review of `object`, as the apiserver sends it.
pub fn review(object: &Value, operation: &str) -> Bytes {
    let r = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b7a1c9e-5c55-4a43-9f7e-6f1b8b1d2e3f",
            "kind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "resource": {"group": "supabase-operator.io", "version": "v1alpha1", "resource": "supabaseprojects"},
            "requestKind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "requestResource": {"group": "supabase-operator.io", "version": "v1alpha1", "resource": "supabaseprojects"},
            "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "operation": operation,
            "userInfo": {"username": "admin", "uid": "admin-uid", "groups": ["system:masters", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
    });
    Bytes::from(serde_json::to_vec(&r).unwrap_or_default())
}

/// The `fieldsV1` the apiserver records for `value`: every member of every object,
/// lists whole (the CRD's lists are atomic).
fn fields_v1(value: &Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut set = serde_json::Map::new();
            set.insert(".".into(), json!({}));
            for (k, v) in members {
                set.insert(format!("f:{k}"), fields_v1(v));
            }
            Value::Object(set)
        }
        _ => json!({}),
    }
}

/// The full sample's review, as the load runs send it: the object as `kubectl apply`
/// creates it, with the last-applied annotation (a copy of what was applied) and the
/// managed fields the apiserver records before admission.
pub fn sample_review() -> Bytes {
    review(&sent_object(), "CREATE")
}

/// The same review as the apiserver sends it to `/validate`: after the mutating
/// webhook, so the object carries the defaults `/mutate`'s own patch fills in. The
/// annotation and managed fields stay as `kubectl` sent them.
pub fn admitted_review() -> Bytes {
    let mut object = sent_object();
    let text = webhook::mutate::patch(&object["spec"], crds::Admitted::Created)
        .unwrap_or_else(|e| panic!("the sample is not defaulted: {e}"))
        .unwrap_or_else(|| b"[]".to_vec());
    let patch: json_patch::Patch =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("the defaults patch is not RFC 6902: {e}"));
    json_patch::patch(&mut object, &patch).unwrap_or_else(|e| panic!("the defaults patch does not apply: {e}"));
    review(&object, "CREATE")
}

fn sent_object() -> Value {
    let path = crate::repo_path("config/samples/full.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut object: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    object["metadata"]["namespace"] = json!(NAMESPACE);
    let applied = object.to_string();
    let fields = json!({
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
        "f:spec": fields_v1(&object["spec"]),
    });
    object["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": applied});
    object["metadata"]["managedFields"] = json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update",
        "apiVersion": "supabase-operator.io/v1alpha1", "time": "2026-12-01T09:00:00Z",
        "fieldsType": "FieldsV1", "fieldsV1": fields,
    }]);
    object["metadata"]["uid"] = json!("6a1d3c44-0f5e-4d2b-8a8c-1f0e9d7b6a55");
    object["metadata"]["creationTimestamp"] = json!("2026-12-01T09:00:00Z");
    object["metadata"]["generation"] = json!(1);
    object
}

/// The Secrets the sample references, in the namespace its review names.
pub fn sample_secrets() -> Vec<Secret> {
    crate::fixtures::full_sample()
        .into_iter()
        .map(|mut s| {
            s.metadata.namespace = Some(NAMESPACE.into());
            s
        })
        .collect()
}

fn per_op(started: Instant, n: u32) -> f64 {
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// Measures the reviews of one CREATE whose Secrets are `secrets`, `sent` as
/// `kubectl` sent it (what `/mutate` gets) and `admitted` after `/mutate` (what
/// `/validate` gets), for about `time` per step. Panics if a review is not answered as a
/// well-formed allowed review, since a figure for a refusal would measure the wrong path.
pub fn measure(sent: &[u8], admitted: &[u8], secrets: Vec<Secret>, time: Duration) -> Costs {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => panic!("cannot start a runtime: {e}"),
    };
    let (admission, _writer) = runtime.block_on(async {
        let client = kube::Client::new(tower::service_fn(allow_all), "default");
        let (store, mut writer) = reflector::store::<Secret>();
        for s in secrets {
            writer.apply_watcher_event(&watcher::Event::Apply(s));
        }
        let admission = Admission {
            secrets: Secrets::from_store(client.clone(), store),
            access: Some(AccessChecker::new(client, Duration::from_secs(300), Duration::from_secs(30))),
            policy: PolicyHandle::new(Policy::default()),
            metrics: Arc::new(Metrics::new()),
        };
        (admission, writer)
    });
    // Exactly the server's steps: read for the endpoint, answer, encode.
    let answer = |endpoint: Endpoint, body: &[u8]| {
        let parsed =
            Parsed::read(endpoint, body).unwrap_or_else(|r| panic!("the benchmark review is refused: {}", r.message));
        let response = runtime.block_on(admission.answer(parsed));
        assert!(response.allowed, "the benchmark review is denied: {}", response.result.message);
        review::body(response)
    };
    // Warm-up: fills the access cache and the allocator's free lists.
    answer(Endpoint::Validate, admitted);
    answer(Endpoint::Validate, sent);
    answer(Endpoint::Mutate, sent);
    let rounds = |f: &dyn Fn()| {
        let mut n = 0u32;
        let started = Instant::now();
        while started.elapsed() < time {
            for _ in 0..100 {
                f();
            }
            n += 100;
        }
        per_op(started, n)
    };
    Costs {
        parse_us: rounds(&|| {
            let _ = Parsed::read(Endpoint::Validate, admitted);
        }),
        mutate_us: rounds(&|| {
            answer(Endpoint::Mutate, sent);
        }),
        validate_us: rounds(&|| {
            answer(Endpoint::Validate, admitted);
        }),
        validate_sent_us: rounds(&|| {
            answer(Endpoint::Validate, sent);
        }),
    }
}

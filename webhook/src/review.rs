//! Reading an `admission.k8s.io/v1` AdmissionReview and writing the answer. Anything
//! that is not a well-formed review of a SupabaseProject gets a clear error naming the
//! problem, with the request's uid when one could be found.

use std::borrow::Cow;
use std::collections::HashMap;

use crds::SupabaseProject;
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::response::{Status, StatusCause, StatusDetails};
use kube::core::{NamespaceResourceScope, Resource, TypeMeta};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::validate::Cause;

const REVIEW_VERSION: &str = "admission.k8s.io/v1";

/// API group of the admitted kind, as the `crds` type declares it.
pub fn group() -> Cow<'static, str> {
    SupabaseProject::group(&())
}

/// The admitted kind, as the `crds` type declares it.
pub fn kind() -> Cow<'static, str> {
    SupabaseProject::kind(&())
}

/// A spec kept as the JSON text the apiserver sent.
pub type RawSpec = Box<RawValue>;

/// The reviewed object as sent: metadata decoded, the spec as `S`. Each endpoint reads
/// the spec in the form it works on (`/validate` typed, `/mutate` as JSON) in the same
/// pass as the review; only a review whose spec does not decode is read again with the
/// spec as text, to name what is wrong ([`RawSpec`]). kube's `DynamicObject` would
/// buffer the object twice on the way.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S = RawSpec> {
    /// `apiVersion`, when sent.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `kind`, when sent.
    #[serde(default)]
    pub kind: Option<String>,
    /// The object's metadata: only what the rules read (see [`slim_metadata`]).
    #[serde(default, deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
    /// The spec.
    #[serde(default = "none")]
    pub spec: Option<S>,
}

/// The metadata the rules read. An object in a review also carries its managed fields
/// and, after `kubectl apply`, a copy of itself in an annotation: more than half of a
/// review, skipped here instead of decoded (reading a review took 2.4 times as long).
/// The apiserver has validated metadata before it asks.
fn slim_metadata<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Read {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        generate_name: Option<String>,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        deletion_timestamp: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    }
    let read = Read::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: read.name,
        generate_name: read.generate_name,
        namespace: read.namespace,
        deletion_timestamp: read.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

/// serde's plain `default` would ask `S: Default`.
fn none<S>() -> Option<S> {
    None
}

impl<S> Resource for Object<S> {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        SupabaseProject::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        SupabaseProject::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        SupabaseProject::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        SupabaseProject::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A parsed review of a SupabaseProject.
pub type Request<S = RawSpec> = AdmissionRequest<Object<S>>;

/// The review as it arrives. Unlike kube's `AdmissionReview` it has no flattened
/// fields, so serde reads it in one pass without buffering.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire<S> {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default = "none")]
    request: Option<Request<S>>,
}

/// A request that cannot be reviewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// The request's uid, when the body carried one.
    pub uid: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Rejection {
    /// A 400 with `message`.
    pub fn bad_request(uid: Option<String>, message: impl Into<String>) -> Rejection {
        Rejection { status: StatusCode::BAD_REQUEST, uid, message: message.into() }
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde's messages may quote input; keep them short.
fn short(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Parses and checks a review body, keeping the spec as text.
pub fn parse(body: &[u8]) -> Result<Request, Rejection> {
    parse_as(body)
}

/// Parses and checks a review body, reading the specs as `S`.
pub fn parse_as<S: DeserializeOwned>(body: &[u8]) -> Result<Request<S>, Rejection> {
    // serde_json skips the fields it ignores without checking their UTF-8; checked here,
    // a body is either JSON throughout or refused as not JSON.
    let Ok(text) = std::str::from_utf8(body) else { return Err(diagnose(body, None)) };
    let request = match serde_json::from_str::<Wire<S>>(text) {
        Ok(Wire { api_version, kind, request: Some(mut request) })
            if kind == "AdmissionReview" && api_version == REVIEW_VERSION && !request.uid.is_empty() =>
        {
            request.types = TypeMeta { api_version, kind };
            request
        }
        Ok(_) => return Err(diagnose(body, None)),
        Err(e) => return Err(diagnose(body, Some(&e))),
    };
    let bad = |message: String| Rejection::bad_request(Some(request.uid.clone()), message);
    let (group, kind) = (group(), kind());
    if request.kind.group != group || request.kind.kind != kind {
        return Err(bad(format!(
            "this webhook reviews {group}/{kind}, not {}",
            if request.kind.group.is_empty() {
                request.kind.kind.clone()
            } else {
                format!("{}/{}", request.kind.group, request.kind.kind)
            }
        )));
    }
    if matches!(request.operation, Operation::Create | Operation::Update) {
        let Some(object) = &request.object else {
            return Err(bad(format!("request.object is missing; a {:?} review carries the object", request.operation)));
        };
        let sent_kind = object.kind.as_deref().unwrap_or(&kind);
        let api_version = object.api_version.as_deref().unwrap_or(&group);
        if sent_kind != kind || !(api_version == group || api_version.starts_with(&format!("{group}/"))) {
            return Err(bad(format!("request.object is a {api_version} {sent_kind}, not a {group} {kind}")));
        }
        if request.operation == Operation::Update && request.old_object.is_none() {
            return Err(bad("request.oldObject is missing; an UPDATE review carries the stored object".into()));
        }
    }
    Ok(request)
}

/// Says what is wrong with a body the typed decoding refused (or found incomplete),
/// naming the problem and keeping the uid when there is one. Only refused requests
/// pay for this second, generic decoding.
fn diagnose(body: &[u8], error: Option<&serde_json::Error>) -> Rejection {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Rejection::bad_request(None, "request body is empty; expected an admission.k8s.io/v1 AdmissionReview");
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Rejection::bad_request(None, format!("request body is not valid JSON: {}", short(&e))),
    };
    let Value::Object(map) = &value else {
        return Rejection::bad_request(
            None,
            format!("request body is {}, expected an AdmissionReview object", kind_name(&value)),
        );
    };
    let uid = value.pointer("/request/uid").and_then(Value::as_str).filter(|u| !u.is_empty()).map(str::to_string);
    let bad = |message: String| Rejection::bad_request(uid.clone(), message);
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != "AdmissionReview" {
        return bad(format!("kind is {kind:?}, expected \"AdmissionReview\""));
    }
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if api_version != REVIEW_VERSION {
        return bad(format!(
            "apiVersion {api_version:?} is not supported; this webhook speaks {REVIEW_VERSION:?} \
             (set admissionReviewVersions: [v1] in the webhook configuration)"
        ));
    }
    let Some(request) = map.get("request").filter(|r| !r.is_null()) else {
        return bad("the AdmissionReview has no request".into());
    };
    if !request.is_object() {
        return bad(format!("request is {}, expected an object", kind_name(request)));
    }
    if uid.is_none() {
        return bad("request.uid is missing or empty; it is needed to answer".into());
    }
    match error {
        Some(e) => bad(format!("request is malformed: {}", short(e))),
        None => bad("request is malformed".into()),
    }
}

/// A review answer as it goes out: kube-core's `AdmissionResponse`, field for field, but
/// written straight to JSON (through a `Value` it cost more than the rules of a review)
/// and with the patch base64-encoded, as the API's `[]byte` field is defined (kube-core
/// writes it as an array of numbers, which Go happens to accept but other readers do not).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Out<'a> {
    api_version: &'a str,
    kind: &'a str,
    response: Answer<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    uid: &'a str,
    allowed: bool,
    status: &'a Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    audit_annotations: &'a HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<&'a Vec<String>>,
}

/// Serializes a review answer.
pub fn body(response: AdmissionResponse) -> Vec<u8> {
    use base64::Engine;
    let patch = response.patch.as_ref().map(|p| base64::engine::general_purpose::STANDARD.encode(p));
    let out = Out {
        api_version: &response.types.api_version,
        kind: &response.types.kind,
        response: Answer {
            uid: &response.uid,
            allowed: response.allowed,
            status: &response.result,
            // kube-core sets a patch and its type together (`with_patch`); its type is private.
            patch_type: patch.is_some().then_some("JSONPatch"),
            patch,
            audit_annotations: &response.audit_annotations,
            warnings: response.warnings.as_ref(),
        },
    };
    serde_json::to_vec(&out).unwrap_or_else(|_| b"{}".to_vec())
}

/// The answer to a request that could not be reviewed.
pub fn rejection_body(rejection: &Rejection) -> Vec<u8> {
    let mut response = AdmissionResponse::invalid(&rejection.message);
    response.uid = rejection.uid.clone().unwrap_or_default();
    response.result = Status::failure(&rejection.message, "BadRequest").with_code(rejection.status.as_u16());
    body(response)
}

/// Denies `request` with Kubernetes' 422 Invalid shape: one cause per violation.
pub fn invalid<S>(request: &Request<S>, name: &str, causes: &[Cause], retry: bool) -> AdmissionResponse {
    let list = causes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let (message, code, reason) = if retry {
        (format!("{} {name:?} could not be checked (worth retrying): {list}", kind()), 503, "ServiceUnavailable")
    } else {
        (format!("{} {name:?} is invalid: {list}", kind()), 422, "Invalid")
    };
    let details = StatusDetails {
        name: name.to_string(),
        group: group().into_owned(),
        kind: kind().into_owned(),
        uid: String::new(),
        causes: causes
            .iter()
            .map(|c| StatusCause { reason: c.reason().to_string(), message: c.message(), field: c.field.clone() })
            .collect(),
        retry_after_seconds: if retry { 1 } else { 0 },
    };
    let mut response = AdmissionResponse::from(request).deny(&message);
    response.result = Status::failure(&message, reason).with_code(code).with_details(details);
    response
}

/// Denies `request` with a plain message and code (e.g. the deadline passed).
pub fn deny<S>(request: &Request<S>, code: u16, reason: &str, message: &str) -> AdmissionResponse {
    refuse(AdmissionResponse::from(request), code, reason, message)
}

/// Turns an answer to a review (see `Parsed::answer`) into a denial.
pub fn refuse(answer: AdmissionResponse, code: u16, reason: &str, message: &str) -> AdmissionResponse {
    let mut response = answer.deny(message);
    response.result = Status::failure(message, reason).with_code(code);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review(request: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": REVIEW_VERSION, "kind": "AdmissionReview", "request": request}))
            .unwrap()
    }

    fn good_request() -> Value {
        json!({
            "uid": "u-1",
            "kind": {"group": "supabase-operator.io", "version": "v1alpha1", "kind": "SupabaseProject"},
            "resource": {"group": "supabase-operator.io", "version": "v1alpha1", "resource": "supabaseprojects"},
            "name": "demo", "namespace": "ns", "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "supabase-operator.io/v1alpha1", "kind": "SupabaseProject",
                       "metadata": {"name": "demo"}, "spec": {}},
        })
    }

    /// What kube-core's own serialization gives, with the patch swapped for its base64
    /// text: the reference `body` must match.
    fn through_kube(response: AdmissionResponse) -> Value {
        use base64::Engine;
        let patch = response.patch.clone();
        let mut value = serde_json::to_value(response.into_review()).unwrap();
        if let Some(patch) = patch {
            value["response"]["patch"] = Value::String(base64::engine::general_purpose::STANDARD.encode(patch));
        }
        value
    }

    #[test]
    fn answers_are_written_as_kube_core_writes_them_with_a_base64_patch() {
        let request = parse(&review(good_request())).unwrap();
        let allowed = AdmissionResponse::from(&request);
        let mut warned = allowed.clone();
        warned.warnings = Some(vec!["spec.jwt: expires soon".into()]);
        let cause = Cause::invalid(crate::validate::Rule::Urls, "spec.apiExternalUrl", "\"x\"", "bad");
        let denied = invalid(&request, "demo", &[cause], false);
        let busy = deny(&request, 503, "ServiceUnavailable", "busy");
        let patched = AdmissionResponse::from(&request).with_patch(json_patch::Patch(vec![])).unwrap();
        let mut patched = patched;
        patched.patch = Some(br#"[{"op":"add","path":"/spec/x","value":1}]"#.to_vec());
        let rejected = AdmissionResponse::invalid("no review");
        for response in [allowed, warned, denied, busy, patched, rejected] {
            let ours: Value = serde_json::from_slice(&body(response.clone())).unwrap();
            assert_eq!(ours, through_kube(response));
        }
    }

    #[test]
    fn metadata_keeps_what_the_rules_read_and_skips_the_rest() {
        let mut request = good_request();
        request["object"]["metadata"] = json!({
            "name": "demo", "generateName": "demo-", "namespace": "ns",
            "deletionTimestamp": "2026-12-01T09:00:00Z",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{}}"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {".": {}}}}],
            "labels": {"a": "b"},
        });
        let r = parse(&review(request.clone())).unwrap();
        let meta = &r.object.as_ref().unwrap().metadata;
        assert_eq!(meta.name.as_deref(), Some("demo"));
        assert_eq!(meta.generate_name.as_deref(), Some("demo-"));
        assert_eq!(meta.namespace.as_deref(), Some("ns"));
        assert!(meta.deletion_timestamp.is_some());
        assert!(meta.managed_fields.is_none() && meta.annotations.is_none() && meta.labels.is_none());
        // What is skipped is not checked: the apiserver validated it before asking.
        request["object"]["metadata"]["managedFields"] = json!("not a list");
        assert!(parse(&review(request.clone())).is_ok());
        request["object"]["metadata"]["name"] = json!(5);
        assert!(parse(&review(request)).is_err(), "what is read is still checked");
    }

    #[test]
    fn a_good_review_parses() {
        let r = parse(&review(good_request())).unwrap();
        assert_eq!(r.uid, "u-1");
        assert_eq!(r.user_info.username.as_deref(), Some("alice"));
    }

    #[test]
    fn each_malformed_review_is_named_and_keeps_the_uid() {
        let mut no_uid = good_request();
        no_uid.as_object_mut().unwrap().remove("uid");
        let mut other_kind = good_request();
        other_kind["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let mut null_object = good_request();
        null_object["object"] = Value::Null;
        let mut bad_op = good_request();
        bad_op["operation"] = json!("EXPLODE");
        let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
            (b"".to_vec(), None, "empty"),
            (b"{".to_vec(), None, "not valid JSON"),
            (b"[1]".to_vec(), None, "is an array"),
            (br#"{"kind":"Pod","apiVersion":"v1"}"#.to_vec(), None, "expected \"AdmissionReview\""),
            (
                br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"x"}}"#.to_vec(),
                Some("x"),
                "v1beta1",
            ),
            (br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#.to_vec(), None, "no request"),
            (review(no_uid), None, "request.uid"),
            (review(other_kind), Some("u-1"), "not apps/Deployment"),
            (review(null_object), Some("u-1"), "request.object is missing"),
            (review(bad_op), Some("u-1"), "malformed"),
        ];
        for (body, uid, expected) in cases {
            let r = parse(&body).unwrap_err();
            assert_eq!(r.uid.as_deref(), uid, "{expected}");
            assert!(r.message.contains(expected), "{} lacks {expected}", r.message);
            let answer: Value = serde_json::from_slice(&rejection_body(&r)).unwrap();
            assert_eq!(answer["response"]["allowed"], false);
            assert_eq!(answer["response"]["uid"], uid.unwrap_or(""));
        }
    }
}

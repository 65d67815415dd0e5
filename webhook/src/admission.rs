//! One admission decision: what `/mutate` and `/validate` answer for a parsed review.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crds::SupabaseProjectSpec;
use kube::core::admission::{AdmissionResponse, Operation};
use serde_json::Value;

use crate::access::AccessChecker;
use crate::lookup::Secrets;
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::review::{self, RawSpec, Rejection, Request};
use crate::validate::{self, Input};

/// The two admission endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mutate`: defaults.
    Mutate,
    /// `/validate`: the rules.
    Validate,
}

impl Endpoint {
    /// The request path it is served on.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Mutate => "/mutate",
            Endpoint::Validate => "/validate",
        }
    }
}

/// A review, read in the form its endpoint works on.
#[derive(Debug)]
pub enum Parsed {
    /// For `/mutate`: the spec as JSON, to see what was sent.
    Mutate(Request<Value>),
    /// For `/mutate`, when the review did not read as JSON values (nested deeper than
    /// serde_json's 128 levels, a number out of range): read again with the spec as
    /// text, so the answer still carries the uid and says why nothing was defaulted.
    MutateText(Request),
    /// For `/validate`: the spec typed.
    Validate(Request<Box<SupabaseProjectSpec>>),
    /// For `/validate`, when a spec did not decode: read again as text, so the answer can
    /// say what is wrong with it.
    ValidateText(Request),
}

impl Parsed {
    /// Reads `body` for `endpoint`. A body that is no review at all is refused.
    pub fn read(endpoint: Endpoint, body: &[u8]) -> Result<Parsed, Rejection> {
        match endpoint {
            Endpoint::Mutate => match review::parse_as(body) {
                Ok(request) => Ok(Parsed::Mutate(request)),
                Err(_) => review::parse(body).map(Parsed::MutateText),
            },
            Endpoint::Validate => match review::parse_as(body) {
                Ok(request) => Ok(Parsed::Validate(request)),
                Err(_) => review::parse(body).map(Parsed::ValidateText),
            },
        }
    }

    /// An allowed answer to this review, to build other answers from (busy, too slow).
    pub fn answer(&self) -> AdmissionResponse {
        match self {
            Parsed::Mutate(r) => AdmissionResponse::from(r),
            Parsed::MutateText(r) => AdmissionResponse::from(r),
            Parsed::Validate(r) => AdmissionResponse::from(r),
            Parsed::ValidateText(r) => AdmissionResponse::from(r),
        }
    }
}

/// A spec as a review carried it, in whichever form it was read.
pub trait SentSpec {
    /// The typed spec, or what does not match the schema.
    fn typed(self) -> Result<SupabaseProjectSpec, String>;
}

/// A spec as JSON, for `/mutate`.
pub trait SentJson {
    /// The spec as a JSON value, or why it is not one.
    fn json(&self) -> Result<Cow<'_, Value>, String>;
}

impl SentJson for Value {
    fn json(&self) -> Result<Cow<'_, Value>, String> {
        Ok(Cow::Borrowed(self))
    }
}

impl SentJson for RawSpec {
    fn json(&self) -> Result<Cow<'_, Value>, String> {
        serde_json::from_str(self.get()).map(Cow::Owned).map_err(|e| e.to_string())
    }
}

impl SentSpec for RawSpec {
    fn typed(self) -> Result<SupabaseProjectSpec, String> {
        serde_json::from_str(self.get()).map_err(|e| e.to_string())
    }
}

impl SentSpec for Box<SupabaseProjectSpec> {
    fn typed(self) -> Result<SupabaseProjectSpec, String> {
        Ok(*self)
    }
}

/// What answering a review needs.
#[derive(Debug)]
pub struct Admission {
    /// Secret reads.
    pub secrets: Secrets,
    /// Access checks; `None` when turned off.
    pub access: Option<AccessChecker>,
    /// The policy in force.
    pub policy: PolicyHandle,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

/// The stored object's `spec.jwt.keys` and `spec.storage.volume` on UPDATE, so that a
/// client replacing the object without them changes neither the project's keys nor
/// where its files live. Unreadable counts as absent (then `legacy` and no claim, which
/// changes nothing of a project stored before the fields existed).
fn stored_previous<S: SentJson>(request: &Request<S>) -> crds::Previous {
    let Some(old) = request.old_object.as_ref().and_then(|o| o.spec.as_ref()).and_then(|s| s.json().ok()) else {
        return crds::Previous::default();
    };
    fn read<T: serde::de::DeserializeOwned>(old: &serde_json::Value, pointer: &str) -> Option<T> {
        serde_json::from_value(old.pointer(pointer)?.clone()).ok()
    }
    crds::Previous { keys: read(&old, "/jwt/keys"), volume: read(&old, "/storage/volume") }
}

/// The stored spec on UPDATE, for a change of `spec.release` (which images followed the
/// old release). Unreadable counts as absent: then no image moves.
fn stored_spec<S: SentJson>(request: &Request<S>) -> Option<crds::SupabaseProjectSpec> {
    if request.operation != Operation::Update {
        return None;
    }
    let old = request.old_object.as_ref()?.spec.as_ref()?.json().ok()?;
    serde_json::from_value(old.into_owned()).ok()
}

fn allowed_unchecked<S>(request: &Request<S>, why: &str) -> AdmissionResponse {
    let mut response = AdmissionResponse::from(request);
    response.result.message = why.to_string();
    response
}

const NO_SPEC: &str = "missing field `spec`";

impl Admission {
    /// `/mutate`: the defaults patch. Never has side effects, so dry-run is the same.
    pub fn mutate<S: SentJson>(&self, request: &Request<S>) -> AdmissionResponse {
        let Some(object) = request.object.as_ref().filter(|_| request.operation != Operation::Delete) else {
            return allowed_unchecked(request, &format!("{:?} is not defaulted", request.operation));
        };
        let admitted = match request.operation {
            Operation::Create => crds::Admitted::Created,
            _ => crds::Admitted::Stored(stored_previous(request)),
        };
        let previous = stored_spec(request);
        let patch = object.spec.as_ref().ok_or_else(|| NO_SPEC.to_string()).and_then(|spec| {
            crate::mutate::patch_update(spec.json()?.as_ref(), admitted, previous.as_ref()).map_err(|e| e.to_string())
        });
        match patch {
            Ok(None) => AdmissionResponse::from(request),
            // kube-core sets the patch type only in `with_patch`, which would encode a
            // `json_patch::Patch` again; the text is written already.
            Ok(Some(p)) => match AdmissionResponse::from(request).with_patch(json_patch::Patch(Vec::new())) {
                Ok(mut response) => {
                    response.patch = Some(p);
                    response
                }
                Err(e) => {
                    review::deny(request, 500, "InternalError", &format!("cannot encode the defaults patch: {e}"))
                }
            },
            // The apiserver validates the schema after mutation and names the field
            // better than a decoding error here could.
            Err(e) => allowed_unchecked(request, &format!("not defaulted: {e}")),
        }
    }

    /// Answers a review read for its endpoint.
    pub async fn answer(&self, parsed: Parsed) -> AdmissionResponse {
        match parsed {
            Parsed::Mutate(request) => self.mutate(&request),
            Parsed::MutateText(request) => self.mutate(&request),
            Parsed::Validate(request) => self.validate(request).await,
            Parsed::ValidateText(request) => self.validate(request).await,
        }
    }

    /// `/validate`: every rule, every violation.
    pub async fn validate<S: SentSpec>(&self, mut request: Request<S>) -> AdmissionResponse {
        let sent = request.object.as_mut().and_then(|o| o.spec.take());
        let old = request.old_object.as_mut().and_then(|o| o.spec.take());
        let request = &request;
        let Some(object) = request.object.as_ref().filter(|_| request.operation != Operation::Delete) else {
            return allowed_unchecked(request, &format!("{:?} is not checked", request.operation));
        };
        // A project being deleted must be able to lose its finalizer even when its
        // Secrets are gone already.
        if request.operation == Operation::Update && object.metadata.deletion_timestamp.is_some() {
            return allowed_unchecked(request, "being deleted: not checked");
        }
        let name = object.metadata.name.clone().filter(|n| !n.is_empty());
        let shown = name.clone().or_else(|| object.metadata.generate_name.clone()).unwrap_or_default();
        let sent = match sent.ok_or_else(|| NO_SPEC.to_string()).and_then(SentSpec::typed) {
            Ok(p) => p,
            Err(e) => {
                return review::deny(
                    request,
                    422,
                    "Invalid",
                    &format!("{} {shown:?} is invalid: spec: does not match the schema: {e}", review::kind()),
                );
            }
        };
        let old = old.and_then(|o| o.typed().ok());
        // Only the spec is this webhook's concern: metadata and finalizer updates of an
        // unchanged spec pass without re-reading Secrets.
        if request.operation == Operation::Update && old.as_ref().is_some_and(|o| *o == sent) {
            return allowed_unchecked(request, "spec unchanged: not re-checked");
        }
        let namespace =
            request.namespace.clone().or_else(|| object.metadata.namespace.clone()).unwrap_or_else(|| "default".into());
        let spec = crds::defaults(sent);
        let old_spec = old.map(crds::defaults);
        let names: Vec<String> = crds::refs::referenced_secrets(&spec).into_iter().filter(|n| !n.is_empty()).collect();

        let secrets_fut = self.secrets.get_all(&namespace, &names);
        let access_fut = async {
            match &self.access {
                Some(checker) => checker.check_all(&request.user_info, &namespace, &names).await,
                None => BTreeMap::new(),
            }
        };
        let (secrets, access) = futures::join!(secrets_fut, access_fut);
        let policy = self.policy.get();
        let user = request.user_info.username.clone().unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        let run = |secrets: &BTreeMap<String, validate::Lookup>| {
            validate::validate(&Input {
                name: &shown,
                generated_name: name.is_none(),
                namespace: &namespace,
                spec: &spec,
                old: old_spec.as_ref(),
                secrets,
                access: &access,
                user: &user,
                policy: &policy,
                now,
            })
        };
        let mut report = run(&secrets.secrets);
        // A cached Secret may be a moment behind an edit the user just made: a denial is
        // only given on what the apiserver says now (which it just said when nothing came
        // from the cache).
        if !report.causes.is_empty() && secrets.cached > 0 {
            report = run(&self.secrets.read_all(&namespace, &names).await);
        }
        let mut response = if report.causes.is_empty() {
            AdmissionResponse::from(request)
        } else {
            let rules: BTreeSet<&str> = report.causes.iter().map(|c| c.rule.as_str()).collect();
            for rule in &rules {
                self.metrics.denial(rule);
            }
            tracing::info!(
                uid = %request.uid,
                namespace = %namespace,
                name = %shown,
                user = %user,
                rules = ?rules,
                violations = report.causes.len(),
                "project refused"
            );
            review::invalid(request, &shown, &report.causes, report.unavailable())
        };
        if !report.warnings.is_empty() {
            response.warnings = Some(report.warnings);
        }
        response
    }
}

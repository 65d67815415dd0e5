//! One admission decision: what `/mutate` and `/validate` answer for a parsed review.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crds::SupabaseProjectSpec;
use kube::core::admission::{AdmissionResponse, Operation};
use serde_json::value::RawValue;

use crate::access::AccessChecker;
use crate::lookup::Secrets;
use crate::metrics::Metrics;
use crate::policy::PolicyHandle;
use crate::review::{self, Object, Request};
use crate::validate::{self, Input};

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

fn allowed_unchecked(request: &Request, why: &str) -> AdmissionResponse {
    let mut response = AdmissionResponse::from(request);
    response.result.message = why.to_string();
    response
}

fn spec_text(object: &Object) -> Result<&str, String> {
    object.spec.as_deref().map(RawValue::get).ok_or_else(|| "missing field `spec`".to_string())
}

/// The spec of `object`, typed, decoded straight from the text the apiserver sent.
fn typed_spec(object: &Object) -> Result<SupabaseProjectSpec, String> {
    serde_json::from_str(spec_text(object)?).map_err(|e| e.to_string())
}

impl Admission {
    /// `/mutate`: the defaults patch. Never has side effects, so dry-run is the same.
    pub fn mutate(&self, request: &Request) -> AdmissionResponse {
        let Some(object) = request.object.as_ref().filter(|_| request.operation != Operation::Delete) else {
            return allowed_unchecked(request, &format!("{:?} is not defaulted", request.operation));
        };
        let patch = spec_text(object).and_then(|spec| crate::mutate::patch(spec).map_err(|e| e.to_string()));
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

    /// `/validate`: every rule, every violation.
    pub async fn validate(&self, request: &Request) -> AdmissionResponse {
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
        let sent = match typed_spec(object) {
            Ok(p) => p,
            Err(e) => {
                return review::deny(
                    request,
                    422,
                    "Invalid",
                    &format!("{} {shown:?} is invalid: spec: does not match the schema: {e}", review::KIND),
                );
            }
        };
        let old = request.old_object.as_ref().and_then(|o| typed_spec(o).ok());
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
        let mut report = run(&secrets);
        // A cached Secret may be a moment behind an edit the user just made: a denial is
        // only given on what the apiserver says now.
        if !report.causes.is_empty() && self.secrets.is_cached() && !names.is_empty() {
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

//! Rule 13: Supabase's new keys (`spec.jwt.keys: both`). The spec's references fit
//! together; a referenced private set parses and holds sound ES256/RS256 keys with
//! unique ids, one signer (marked, or named by `signingKeyId`) and the project's JWT
//! secret as its oct key; a referenced public set is its public part; the API keys
//! have their prefix and length and differ; referenced internal JWTs verify against
//! the set with the right role. Warnings: a bad API key checksum (the gateway does not
//! check it), the signer leaving the set or the set being replaced on update, a
//! project on the legacy keys only. Messages name Secrets, keys and key ids, never
//! key material.

use std::sync::Arc;

use crds::jwt::{self, Role};
use crds::keys::api_keys::{self, ApiKeyKind};
use crds::keys::internal_jwt::Verified;
use crds::keys::set::{Expect, PrivateSet, Problem, SetProblem};
use crds::project::{JwtSpec, KeyScheme};
use crds::refs::{KeyRef, Value};

use super::field::{Cause, Rule, quoted};
use super::jwt::EXPIRY_WARNING_SECONDS;
use super::keys_memo::{self, Checked};
use super::{Input, Report, secret_value};

const SIGNING_KEY_ID: &str = "spec.jwt.signingKeyId";

fn reference(refs: &[KeyRef], value: Value) -> Option<&KeyRef> {
    refs.iter().find(|r| r.value == value)
}

/// The value of a reference, when its Secret and key are there (else the Secrets rule
/// has named what is missing).
fn value<'i>(input: &'i Input<'_>, refs: &[KeyRef], v: Value) -> Option<(&'i str, KeyRef)> {
    let r = reference(refs, v)?;
    secret_value(input, &r.secret, &r.key).filter(|s| !s.trim().is_empty()).map(|s| (s, r.clone()))
}

fn invalid(r: &KeyRef, detail: String) -> Cause {
    Cause::invalid(Rule::Keys, r.path, quoted(&r.key), detail)
}

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], report: &mut Report) {
    let none = JwtSpec::default();
    let jwt = input.spec.jwt.as_ref().unwrap_or(&none);
    let scheme = jwt.keys.unwrap_or(KeyScheme::Legacy);
    references(jwt, scheme, &mut report.causes);
    let keys = signing_keys(input, refs, jwt, report);
    api_keys(input, refs, report);
    if let Some(keys) = &keys {
        internal_jwts(input, refs, keys, report);
    }
    warnings(input, jwt, scheme, keys.as_ref().map(|k| &k.checked.verifying), &mut report.warnings);
}

/// The rules on the spec alone.
fn references(jwt: &JwtSpec, scheme: KeyScheme, causes: &mut Vec<Cause>) {
    if scheme == KeyScheme::Legacy {
        let set = [
            ("spec.jwt.signingKeysRef", jwt.signing_keys_ref.is_some()),
            ("spec.jwt.apiKeysRef", jwt.api_keys_ref.is_some()),
            (SIGNING_KEY_ID, jwt.signing_key_id.is_some()),
        ];
        for (field, _) in set.iter().filter(|(_, present)| *present) {
            causes.push(Cause::forbidden(
                Rule::Keys,
                *field,
                "only with spec.jwt.keys: both; with the legacy keys alone it would not be used",
            ));
        }
        return;
    }
    match jwt.signing_key_id.as_deref() {
        Some(kid) if kid.trim().is_empty() => {
            causes.push(Cause::invalid(Rule::Keys, SIGNING_KEY_ID, quoted(kid), "must be a key id (kid)"))
        }
        Some(_) if jwt.signing_keys_ref.is_none() => causes.push(Cause::forbidden(
            Rule::Keys,
            SIGNING_KEY_ID,
            "only with spec.jwt.signingKeysRef: the operator's generated set holds one key, which signs",
        )),
        _ => {}
    }
    let Some(api) = &jwt.api_keys_ref else { return };
    match (&api.anon_jwt_key, &api.service_jwt_key) {
        (Some(_), None) => causes.push(Cause::required(
            Rule::Keys,
            "spec.jwt.apiKeysRef.serviceJwtKey",
            "the internal JWTs come together: anonJwtKey is set",
        )),
        (None, Some(_)) => causes.push(Cause::required(
            Rule::Keys,
            "spec.jwt.apiKeysRef.anonJwtKey",
            "the internal JWTs come together: serviceJwtKey is set",
        )),
        (Some(_), Some(_)) if jwt.signing_keys_ref.is_none() => causes.push(Cause::forbidden(
            Rule::Keys,
            "spec.jwt.apiKeysRef.anonJwtKey",
            "internal JWTs must be signed by a key of the project's set: reference it in spec.jwt.signingKeysRef, \
             or omit anonJwtKey and serviceJwtKey to have the operator sign them",
        )),
        _ => {}
    }
}

fn is_signer_problem(p: &SetProblem) -> bool {
    matches!(p.problem, Problem::SignerNotFound(_) | Problem::SignerSymmetric | Problem::SignerPublicOnly)
}

/// A referenced private set, as checked.
struct Keys<'i> {
    /// The set's text, which keys the memo of its tokens.
    text: &'i str,
    checked: Arc<Checked>,
}

/// The private and public sets. Returns the checked set when its keys are sound, for
/// the checks that build on it.
fn signing_keys<'i>(input: &'i Input<'_>, refs: &[KeyRef], jwt: &JwtSpec, report: &mut Report) -> Option<Keys<'i>> {
    let (text, r) = value(input, refs, Value::SigningKeys)?;
    let secret = value(input, refs, Value::JwtSecret).map(|(s, _)| s);
    let named = jwt.signing_key_id.as_deref().filter(|k| !k.trim().is_empty());
    let public = value(input, refs, Value::PublicKeys);
    let checked = keys_memo::check(text, &Expect { signer: named, jwt_secret: secret }, public.as_ref().map(|p| p.0));
    for p in &checked.problems {
        let detail = format!("the signing keys in Secret {:?} (key {:?}): {p}", r.secret, r.key);
        match named {
            // A problem with the signer the spec names is a problem of that field.
            Some(kid) if is_signer_problem(p) => {
                report.causes.push(Cause::invalid(Rule::Keys, SIGNING_KEY_ID, quoted(kid), detail))
            }
            _ => report.causes.push(invalid(&r, detail)),
        }
    }
    if checked.oct && reference(refs, Value::JwtSecret).is_none() {
        report.causes.push(invalid(
            &r,
            format!(
                "the signing keys in Secret {:?} hold an oct key, but the project's JWT secret is generated \
                 (no spec.jwt.secretRef), so it cannot be that key: remove the oct key (the operator adds the \
                 project's) or reference the secret",
                r.secret
            ),
        ));
        return None;
    }
    // Which key signs does not change what the keys verify: the public set and the
    // internal JWTs are still worth checking against them.
    if !checked.problems.iter().all(is_signer_problem) {
        return None;
    }
    if let (Some((_, p)), Some(problems)) = (&public, &checked.public) {
        for problem in problems {
            report.causes.push(invalid(p, format!("the public set in Secret {:?}: {problem}", p.secret)));
        }
    }
    Some(Keys { text, checked })
}

/// Surrounding whitespace, most often the newline of `kubectl create secret --from-file`:
/// the gateway compares keys as exact strings.
fn padded(value: &str) -> bool {
    value.trim() != value
}

fn api_keys(input: &Input<'_>, refs: &[KeyRef], report: &mut Report) {
    let mut seen: Vec<(&str, KeyRef)> = Vec::new();
    for (v, kind) in [(Value::PublishableKey, ApiKeyKind::Publishable), (Value::SecretApiKey, ApiKeyKind::Secret)] {
        let Some((key, r)) = value(input, refs, v) else { continue };
        let label = kind.label();
        if padded(key) {
            report.causes.push(invalid(
                &r,
                format!(
                    "the {label} key in Secret {:?} has leading or trailing whitespace (a newline from \
                     --from-file?); the gateway compares keys as exact strings",
                    r.secret
                ),
            ));
        } else if let Err(problem) = api_keys::check(kind, key) {
            report.causes.push(invalid(&r, format!("the {label} key in Secret {:?} {problem}", r.secret)));
        } else if !api_keys::checksum_ok(kind, key) {
            report.warnings.push(format!(
                "{}: the {label} key in Secret {:?} does not end in the checksum upstream's generator gives it; \
                 the gateway does not check it, but Supabase's tools may",
                r.path, r.secret
            ));
        }
        if seen.iter().any(|(other, _)| *other == key) {
            report.causes.push(Cause::invalid(
                Rule::Keys,
                r.path,
                quoted(&r.key),
                "the secret key must differ from the publishable key",
            ));
        }
        seen.push((key, r));
    }
}

fn internal_jwts(input: &Input<'_>, refs: &[KeyRef], keys: &Keys<'_>, report: &mut Report) {
    let signer = keys.checked.signer.as_deref();
    for (v, role, label) in
        [(Value::AnonJwt, Role::Anon, "anon"), (Value::ServiceJwt, Role::ServiceRole, "service_role")]
    {
        let Some((token, r)) = value(input, refs, v) else { continue };
        if padded(token) {
            report.causes.push(invalid(
                &r,
                format!("the internal {label} JWT in Secret {:?} has leading or trailing whitespace", r.secret),
            ));
            continue;
        }
        let checked = keys_memo::verify(keys.text, &keys.checked.verifying, token, role).and_then(|v| {
            let claims = jwt::unexpired(v.claims, input.now)?;
            Ok(Verified { claims, ..v })
        });
        match checked {
            Err(problem) => {
                report.causes.push(invalid(&r, format!("the internal {label} JWT in Secret {:?} {problem}", r.secret)))
            }
            Ok(verified) => {
                if let Some(signer) = signer.filter(|s| *s != verified.kid) {
                    report.warnings.push(format!(
                        "{}: the internal {label} JWT in Secret {:?} is signed by key {:?}, not by the signing key \
                         {signer:?}; sign it again before key {:?} leaves the set",
                        r.path, r.secret, verified.kid, verified.kid
                    ));
                }
                if let Some(exp) = verified.claims.exp
                    && exp - input.now < EXPIRY_WARNING_SECONDS
                {
                    report.warnings.push(format!(
                        "{}: the internal {label} JWT in Secret {:?} expires at {} (in {} days); sign a new one \
                         before then",
                        r.path,
                        r.secret,
                        jwt::format_time(exp),
                        (exp - input.now) / 86_400
                    ));
                }
            }
        }
    }
}

fn warnings(input: &Input<'_>, jwt: &JwtSpec, scheme: KeyScheme, set: Option<&PrivateSet>, warnings: &mut Vec<String>) {
    if scheme == KeyScheme::Legacy {
        warnings.push(
            "spec.jwt.keys: this project uses the legacy keys only (an HS256 secret and the anon and service_role \
             JWTs), which upstream is deprecating; set spec.jwt.keys: both to add an asymmetric signing key and \
             sb_publishable_/sb_secret_ API keys (the legacy keys stay valid)"
                .to_string(),
        );
    }
    let Some(old) = input.old.and_then(|o| o.jwt.as_ref()) else { return };
    if old.keys.unwrap_or(KeyScheme::Legacy) != KeyScheme::Both {
        return; // nothing was signed with the new keys yet
    }
    if scheme == KeyScheme::Legacy {
        warnings.push(
            "spec.jwt.keys: back to legacy: the sb_ API keys stop working and sessions signed with the asymmetric \
             key are no longer accepted (their users must sign in again)"
                .to_string(),
        );
        return;
    }
    let source = |j: &JwtSpec| j.signing_keys_ref.as_ref().map(|r| (r.name.clone(), r.keys_key.clone()));
    let old_signer = old.signing_key_id.as_deref();
    match (old_signer, set) {
        // The key that signed sessions until now is gone from the set.
        (Some(kid), Some(set)) if set.find(kid).is_none() => warnings.push(format!(
            "{SIGNING_KEY_ID}: key {kid:?}, which signed sessions until now, is no longer in the signing keys; \
             sessions it signed stop working (their users must sign in again). Keep it in the set, without \
             \"sign\", until they expire (spec.jwt.expirySeconds)"
        )),
        (Some(kid), Some(set)) if set.find(kid).is_some() => {}
        _ if source(old) != source(jwt) => warnings.push(
            "spec.jwt.signingKeysRef: the signing keys now come from another Secret or key; sessions signed by a \
             key that is not in the new set stop working (their users must sign in again)"
                .to_string(),
        ),
        _ => {}
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;

//! One violation, worded the way Kubernetes words field errors
//! (`spec.components.kong.replicas: Invalid value: 50: must be at most 10`).

use std::fmt;

/// The rule group a violation belongs to (the `reason` label of the denials metric).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Rule 1: object names.
    Names,
    /// Rule 2: URLs.
    Urls,
    /// Rule 3: replicas and resources.
    Workloads,
    /// Rule 4: image references.
    Images,
    /// Rule 5: extra environment variables.
    Env,
    /// Rule 6: referenced Secrets and keys.
    Secrets,
    /// Rule 7: database connection.
    Database,
    /// Rule 8: JWT secret and keys.
    Jwt,
    /// Rule 9: S3.
    S3,
    /// Rule 10: generated-style secrets.
    Generated,
    /// Rule 11: the requester's access to Secrets.
    Access,
    /// Rule 12: the platform policy.
    Policy,
    /// Rule 13: Supabase's new keys (signing keys, API keys, internal JWTs).
    Keys,
    /// Rule 14: the Supabase release and moves between releases.
    Release,
    /// Rule 15: `spec.gateway` (Ingress or HTTPRoute) and the host it routes.
    Gateway,
}

impl Rule {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Names => "names",
            Rule::Urls => "urls",
            Rule::Workloads => "workloads",
            Rule::Images => "images",
            Rule::Env => "env",
            Rule::Secrets => "secrets",
            Rule::Database => "database",
            Rule::Jwt => "jwt",
            Rule::S3 => "s3",
            Rule::Generated => "generated",
            Rule::Access => "access",
            Rule::Policy => "policy",
            Rule::Keys => "keys",
            Rule::Release => "release",
            Rule::Gateway => "gateway",
        }
    }
}

/// The kind of a violation, as Kubernetes' `field.ErrorType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Invalid value: <value>: <detail>`. The value is already rendered (quoted strings).
    Invalid(String),
    /// `Required value: <detail>`.
    Required,
    /// `Not found: <value>`.
    NotFound(String),
    /// `Unsupported value: <value>`, the detail listing the supported ones.
    Unsupported(String),
    /// `Duplicate value: <value>`.
    Duplicate(String),
    /// `Forbidden: <detail>`.
    Forbidden,
    /// The check could not be done (the apiserver did not answer); worth retrying.
    Unavailable,
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Rule group.
    pub rule: Rule,
    /// Field path, e.g. `spec.database.port`.
    pub field: String,
    /// Kind.
    pub kind: Kind,
    /// What is wrong (may be empty for `NotFound`/`Duplicate`).
    pub detail: String,
}

/// Renders a string value as Kubernetes does (`"x"`).
pub fn quoted(value: &str) -> String {
    format!("{value:?}")
}

impl Cause {
    /// `Invalid value`.
    pub fn invalid(rule: Rule, field: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Invalid(value.into()), detail: detail.into() }
    }

    /// `Required value`.
    pub fn required(rule: Rule, field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Required, detail: detail.into() }
    }

    /// `Not found`.
    pub fn not_found(
        rule: Rule,
        field: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::NotFound(value.into()), detail: detail.into() }
    }

    /// `Unsupported value`: `detail` lists the supported values.
    pub fn unsupported(
        rule: Rule,
        field: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Unsupported(value.into()), detail: detail.into() }
    }

    /// `Duplicate value`.
    pub fn duplicate(rule: Rule, field: impl Into<String>, value: impl Into<String>) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Duplicate(value.into()), detail: String::new() }
    }

    /// `Forbidden`.
    pub fn forbidden(rule: Rule, field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Forbidden, detail: detail.into() }
    }

    /// The check could not be done.
    pub fn unavailable(rule: Rule, field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause { rule, field: field.into(), kind: Kind::Unavailable, detail: detail.into() }
    }

    /// Kubernetes' `StatusCause.reason` for this kind.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            Kind::Invalid(_) => "FieldValueInvalid",
            Kind::Required => "FieldValueRequired",
            Kind::NotFound(_) => "FieldValueNotFound",
            Kind::Unsupported(_) => "FieldValueNotSupported",
            Kind::Duplicate(_) => "FieldValueDuplicate",
            Kind::Forbidden => "FieldValueForbidden",
            Kind::Unavailable => "InternalError",
        }
    }

    /// The message without the field path (the `StatusCause.message`).
    pub fn message(&self) -> String {
        let with_detail = |head: String| if self.detail.is_empty() { head } else { format!("{head}: {}", self.detail) };
        match &self.kind {
            Kind::Invalid(v) => with_detail(format!("Invalid value: {v}")),
            Kind::Required => with_detail("Required value".into()),
            Kind::NotFound(v) => with_detail(format!("Not found: {v}")),
            Kind::Unsupported(v) => with_detail(format!("Unsupported value: {v}")),
            Kind::Duplicate(v) => with_detail(format!("Duplicate value: {v}")),
            Kind::Forbidden => with_detail("Forbidden".into()),
            Kind::Unavailable => with_detail("Internal error".into()),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_kubernetes() {
        let c = Cause::invalid(Rule::Workloads, "spec.components.kong.replicas", "50", "must be at most 10");
        assert_eq!(c.to_string(), "spec.components.kong.replicas: Invalid value: 50: must be at most 10");
        let c = Cause::not_found(Rule::Secrets, "spec.database.secretRef.name", quoted("db"), "");
        assert_eq!(c.to_string(), r#"spec.database.secretRef.name: Not found: "db""#);
        assert_eq!(c.reason(), "FieldValueNotFound");
    }
}

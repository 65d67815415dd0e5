//! Building a container's env: literals from the spec, secret values through
//! `secretKeyRef` only, and database URLs that never carry the password.
//!
//! ## Why the database URLs carry no password
//!
//! Auth (`GOTRUE_DB_DATABASE_URL`), PostgREST (`PGRST_DB_URI`) and Storage (`DATABASE_URL`)
//! want a URL, and a password inside a URL must be percent-encoded. Kubernetes' `$(VAR)`
//! expansion does not encode, and PostgREST's image is `FROM scratch` (no shell for an
//! encoding wrapper). All three talk to PostgreSQL through libpq-compatible clients that
//! read the standard `PG*` environment variables for whatever the URL leaves out:
//! PostgREST uses libpq itself, Auth uses pgx (`pgconn.ParseConfig` merges `PGPASSWORD`),
//! Storage uses node-postgres (`PGPASSWORD` is its fallback for a URL without password).
//! So the URL is `postgres://<role>@host:port/db?...` and the password arrives as
//! `PGPASSWORD` from a `secretKeyRef`: nothing to encode, no shell, and the secret is in
//! no object. Literal host and database names are percent-encoded into the URL; those that
//! come from a Secret are referenced as `$(PGHOST)` etc. (host names and database names
//! need no encoding in practice, and the values also reach the client as `PGHOST`, ...).
//! Realtime, postgres-meta and Studio take host, port, user and password as separate
//! variables already.

use crds::refs::{Source, Value};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, SecretKeySelector};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Ctx;
use crate::Error;

/// Characters left alone in a URL's user, host and path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes one URL component.
pub(super) fn encode(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// How a client library treats `sslmode` in a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UrlClient {
    /// libpq (PostgREST) and pgx (Auth): every libpq `sslmode` means what libpq says.
    Libpq,
    /// node-postgres (Storage): any `sslmode` but `disable` turns TLS on *and required*
    /// (it has no fallback to plain text; checked with pg 8.23), so `allow`/`prefer` are
    /// left out of the URL and the connection is plain, which both modes accept. For the
    /// other modes `uselibpqcompat=true` asks for libpq's meaning (`require` encrypts
    /// without verifying the certificate); pg releases before it verify, which is stricter.
    NodePostgres,
}

/// A container's env, in order.
pub(super) struct Env<'a> {
    ctx: &'a Ctx<'a>,
    vars: Vec<EnvVar>,
}

impl<'a> Env<'a> {
    pub(super) fn new(ctx: &'a Ctx<'a>) -> Self {
        Env { ctx, vars: Vec::new() }
    }

    /// A literal value (never a secret).
    pub(super) fn lit(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.vars.push(EnvVar { name: name.into(), value: Some(value.into()), value_from: None });
        self
    }

    /// A value from the pod itself through the downward API (`status.podIP`, ...).
    pub(super) fn field(&mut self, name: &str, path: &str) -> &mut Self {
        self.vars.push(EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector { field_path: path.into(), api_version: None }),
                ..Default::default()
            }),
        });
        self
    }

    /// `value` from wherever the spec says: a literal for database host/port/name given
    /// in the spec, else a `secretKeyRef`. Errors when the spec does not provide it.
    pub(super) fn from(&mut self, name: &str, value: Value) -> Result<&mut Self, Error> {
        match self.source(value) {
            Some(source) => {
                self.push_source(name, source);
                Ok(self)
            }
            None => Err(Error::Render(format!("project {}: no source for {value:?} ({name})", self.ctx.name))),
        }
    }

    /// [`Env::from`], only with Supabase's new keys (`spec.jwt.keys: both`): a project on
    /// the legacy keys renders exactly what it did before they existed.
    pub(super) fn new_key(&mut self, name: &str, value: Value) -> Result<&mut Self, Error> {
        if self.ctx.new_keys() { self.from(name, value) } else { Ok(self) }
    }

    fn source(&self, value: Value) -> Option<Source> {
        crds::refs::source(&self.ctx.name, self.ctx.spec.spec(), value)
    }

    fn push_source(&mut self, name: &str, source: Source) {
        let var = match source {
            Source::Literal(v) => EnvVar { name: name.into(), value: Some(v), value_from: None },
            Source::Secret { name: secret, key, .. } => EnvVar {
                name: name.into(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector { name: secret, key, optional: Some(false) }),
                    ..Default::default()
                }),
            },
        };
        self.vars.push(var);
    }

    /// The libpq connection variables (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGPASSWORD`) and
    /// then `name` = a URL connecting as `role` without a password (see the module doc).
    pub(super) fn db_url(&mut self, name: &str, role: &str, client: UrlClient) -> Result<&mut Self, Error> {
        self.from("PGHOST", Value::DbHost)?;
        self.from("PGPORT", Value::DbPort)?;
        self.from("PGDATABASE", Value::DbName)?;
        self.from("PGPASSWORD", Value::DbPassword)?;
        // A literal goes into the URL itself; a Secret-held value by reference to the
        // variable just defined from it, expanded by the kubelet.
        let part = |value: Value, var: &str| -> (String, bool) {
            match self.source(value) {
                Some(Source::Literal(v)) => (v, false),
                _ => (format!("$({var})"), true),
            }
        };
        let (host, host_ref) = part(Value::DbHost, "PGHOST");
        let (port, port_ref) = part(Value::DbPort, "PGPORT");
        let (db, db_ref) = part(Value::DbName, "PGDATABASE");
        // An IPv6 literal goes in brackets; names and IPv4 are unreserved characters.
        let host = match host_ref {
            true => host,
            false if host.contains(':') => format!("[{host}]"),
            false => encode(&host),
        };
        let port = if port_ref { port } else { encode(&port) };
        let db = if db_ref { db } else { encode(&db) };
        let query = match (client, self.ctx.spec.database.ssl_mode.as_str()) {
            (UrlClient::NodePostgres, "allow" | "prefer") => String::new(),
            (UrlClient::NodePostgres, m) => format!("?uselibpqcompat=true&sslmode={m}"),
            (UrlClient::Libpq, m) => format!("?sslmode={m}"),
        };
        let url = format!("postgres://{}@{host}:{port}/{db}{query}", encode(role));
        self.lit(name, url);
        Ok(self)
    }

    /// Whether the spec's `sslMode` asks for TLS at all (`require` and stricter); `allow` and
    /// `prefer` accept a plain connection, which is what clients without a fallback get.
    pub(super) fn tls_required(&self) -> bool {
        !matches!(self.ctx.spec.database.ssl_mode.as_str(), "disable" | "allow" | "prefer")
    }

    /// The operator's variables, in order.
    pub(super) fn finish(self) -> Vec<EnvVar> {
        self.vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_leaves_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(encode("pg-rw.db.svc_1~"), "pg-rw.db.svc_1~");
        assert_eq!(encode("a b/c@d:e#f%"), "a%20b%2Fc%40d%3Ae%23f%25");
    }
}

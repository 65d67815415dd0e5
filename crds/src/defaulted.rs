//! A spec after [`defaults`](crate::defaults), as the reconciler's builders read it.
//!
//! The spec's fields are `Option`s so that the defaulting patch can tell "omitted" from
//! "set"; read directly, each one invites a fallback at the point of use, and a fallback
//! written there drifts from the default the webhook writes. [`Defaulted`] holds every
//! value `defaults` fills without the `Option`: it is built once from the defaulted spec,
//! and a value `defaults` left empty is an error naming its field, never a value made
//! up on the spot. What a user may leave out even after defaulting (SMTP, S3, the
//! dashboard, literal database coordinates, scheduling) stays optional.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, EnvVar, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::Error;
use crate::catalog::Component;
use crate::project::{
    ComponentsSpec, DashboardSpec, SmtpSpec, SslMode, StorageBackend, SupabaseProjectSpec, VolumeAccessMode,
    VolumeRetention, WorkloadSpec,
};
use crate::scaling::AutoscalingSpec;

/// The database settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Database {
    /// libpq `sslmode`.
    pub ssl_mode: SslMode,
    /// Whether the operator initializes the database.
    pub initialize: bool,
}

/// S3 settings, when the spec has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S3<'a> {
    /// Bucket.
    pub bucket: &'a str,
    /// Region.
    pub region: &'a str,
    /// Endpoint, for S3-compatible stores.
    pub endpoint: Option<&'a str>,
    /// Path-style addressing.
    pub force_path_style: bool,
}

/// The file backend's volume claim, when the spec has one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Volume<'a> {
    /// Requested size.
    pub size: &'a Quantity,
    /// StorageClass; `None` for the cluster's default.
    pub storage_class_name: Option<&'a str>,
    /// Access modes (at least one, admission checks).
    pub access_modes: &'a [VolumeAccessMode],
    /// Whether the claim outlives the project.
    pub when_deleted: VolumeRetention,
}

impl Volume<'_> {
    /// Whether pods on several nodes may mount it (several replicas, a rolling update).
    pub fn shared(&self) -> bool {
        self.access_modes.contains(&VolumeAccessMode::ReadWriteMany)
    }
}

/// Storage settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Storage<'a> {
    /// Where objects go.
    pub backend: StorageBackend,
    /// Upload limit in bytes.
    pub file_size_limit: i64,
    /// The S3 settings, when given (the backend may still be `file`).
    pub s3: Option<S3<'a>>,
    /// The volume claim, when given (a project stored before it existed has none).
    pub volume: Option<Volume<'a>>,
}

/// SMTP settings, when the spec has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Smtp<'a> {
    /// Server host.
    pub host: &'a str,
    /// Server port.
    pub port: i32,
    /// Sender address.
    pub sender: &'a str,
    /// Sender display name.
    pub sender_name: &'a str,
}

/// Auth's switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth<'a> {
    /// Signups off.
    pub disable_signup: bool,
    /// Email signups on.
    pub enable_email_signup: bool,
    /// Email confirmation skipped.
    pub enable_email_autoconfirm: bool,
    /// Anonymous sign-ins on.
    pub enable_anonymous_users: bool,
    /// Redirect URLs allowed besides the site URL.
    pub additional_redirect_urls: &'a [String],
}

/// PostgREST's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rest<'a> {
    /// Exposed schemas.
    pub schemas: &'a [String],
    /// Row limit.
    pub max_rows: i32,
}

/// Studio's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Studio<'a> {
    /// Whether Studio is deployed.
    pub enabled: bool,
    /// Default organization name.
    pub organization: &'a str,
    /// Default project name.
    pub project: &'a str,
}

/// Edge Functions' settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Functions<'a> {
    /// Whether Edge Functions are deployed.
    pub enabled: bool,
    /// Whether the main service refuses calls without a valid JWT.
    pub verify_jwt: bool,
    /// Where the code is; `None` only while disabled (admission requires it when enabled).
    pub code: Option<&'a crate::project::FunctionsCode>,
}

/// One component's workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Workload<'a> {
    /// Container image.
    pub image: &'a str,
    /// Replicas: the fixed number or, with `autoscaling`, the autoscaler's minimum.
    pub replicas: i32,
    /// The autoscaler, when given: it, not `replicas`, sets the Deployment's replicas.
    pub autoscaling: Option<&'a AutoscalingSpec>,
    /// Requests and limits (both present).
    pub resources: &'a ResourceRequirements,
    /// Extra env, after the operator's.
    pub env: &'a [EnvVar],
    /// Node selector, when given.
    pub node_selector: Option<&'a BTreeMap<String, String>>,
    /// Tolerations, when given.
    pub tolerations: Option<&'a Vec<Toleration>>,
    /// Affinity, when given.
    pub affinity: Option<&'a Affinity>,
}

impl Workload<'_> {
    /// The Deployment's `replicas`: `None` with an autoscaler, which owns the field.
    pub fn fixed_replicas(&self) -> Option<i32> {
        self.autoscaling.is_none().then_some(self.replicas)
    }
}

/// The workload of every component, one field each, so looking one up cannot fail.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Workloads<'a> {
    kong: Workload<'a>,
    auth: Workload<'a>,
    rest: Workload<'a>,
    realtime: Workload<'a>,
    imgproxy: Workload<'a>,
    storage: Workload<'a>,
    meta: Workload<'a>,
    studio: Workload<'a>,
    functions: Workload<'a>,
}

/// A defaulted spec, every defaulted value resolved (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Defaulted<'a> {
    spec: &'a SupabaseProjectSpec,
    /// `spec.apiExternalUrl`.
    pub api_external_url: &'a str,
    /// `spec.siteUrl`.
    pub site_url: &'a str,
    /// `spec.database`'s settings.
    pub database: Database,
    /// Lifetime of Auth's access tokens.
    pub jwt_expiry_seconds: i64,
    /// `spec.storage`.
    pub storage: Storage<'a>,
    /// `spec.smtp`, when given.
    pub smtp: Option<Smtp<'a>>,
    /// `spec.dashboard`, when given.
    pub dashboard: Option<&'a DashboardSpec>,
    /// `spec.components.auth`'s switches.
    pub auth: Auth<'a>,
    /// `spec.components.rest`'s settings.
    pub rest: Rest<'a>,
    /// `spec.components.studio`'s settings.
    pub studio: Studio<'a>,
    /// Whether imgproxy is deployed (`spec.components.imgproxy.enabled`).
    pub imgproxy: bool,
    /// `spec.components.functions`' settings.
    pub functions: Functions<'a>,
    workloads: Workloads<'a>,
}

fn need<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::NotDefaulted(field.to_string()))
}

fn workload<'a>(components: &'a ComponentsSpec, component: Component) -> Result<Workload<'a>, Error> {
    let field = |f: &str| format!("spec.components.{}{f}", component.name());
    let w: &WorkloadSpec = need(components.workload(component), &field(""))?;
    let resources = need(w.resources.as_ref(), &field(".resources"))?;
    need(resources.limits.as_ref(), &field(".resources.limits"))?;
    need(resources.requests.as_ref(), &field(".resources.requests"))?;
    Ok(Workload {
        image: need(w.image.as_deref(), &field(".image"))?,
        replicas: match &w.autoscaling {
            Some(a) => a.min_replicas,
            None => need(w.replicas, &field(".replicas"))?,
        },
        autoscaling: w.autoscaling.as_ref(),
        resources,
        env: need(w.env.as_deref(), &field(".env"))?,
        node_selector: w.node_selector.as_ref(),
        tolerations: w.tolerations.as_ref(),
        affinity: w.affinity.as_ref(),
    })
}

fn smtp(s: &SmtpSpec) -> Result<Smtp<'_>, Error> {
    Ok(Smtp {
        host: &s.host,
        port: need(s.port, "spec.smtp.port")?,
        sender: &s.sender,
        sender_name: need(s.sender_name.as_deref(), "spec.smtp.senderName")?,
    })
}

impl<'a> Defaulted<'a> {
    /// Resolves a spec that went through `defaults`; an `Err` names the first value it
    /// lacks (a spec that was not defaulted, or a default `defaults` stopped filling).
    pub fn of(spec: &'a SupabaseProjectSpec) -> Result<Defaulted<'a>, Error> {
        let db = &spec.database;
        let storage = need(spec.storage.as_ref(), "spec.storage")?;
        let s3 = match &storage.s3 {
            Some(s) => Some(S3 {
                bucket: &s.bucket,
                region: &s.region,
                endpoint: s.endpoint.as_deref(),
                force_path_style: need(s.force_path_style, "spec.storage.s3.forcePathStyle")?,
            }),
            None => None,
        };
        let volume = match &storage.volume {
            Some(v) => Some(Volume {
                size: need(v.size.as_ref(), "spec.storage.volume.size")?,
                storage_class_name: v.storage_class_name.as_deref(),
                access_modes: need(v.access_modes.as_deref(), "spec.storage.volume.accessModes")?,
                when_deleted: need(v.when_deleted, "spec.storage.volume.whenDeleted")?,
            }),
            None => None,
        };
        let jwt = need(spec.jwt.as_ref(), "spec.jwt")?;
        let c = need(spec.components.as_ref(), "spec.components")?;
        let auth = need(c.auth.as_ref(), "spec.components.auth")?;
        let rest = need(c.rest.as_ref(), "spec.components.rest")?;
        let studio = need(c.studio.as_ref(), "spec.components.studio")?;
        let imgproxy = need(c.imgproxy.as_ref(), "spec.components.imgproxy")?;
        let functions = need(c.functions.as_ref(), "spec.components.functions")?;
        Ok(Defaulted {
            spec,
            api_external_url: &spec.api_external_url,
            site_url: need(spec.site_url.as_deref(), "spec.siteUrl")?,
            database: Database {
                ssl_mode: need(db.ssl_mode, "spec.database.sslMode")?,
                initialize: need(db.initialize, "spec.database.initialize")?,
            },
            jwt_expiry_seconds: need(jwt.expiry_seconds, "spec.jwt.expirySeconds")?,
            storage: Storage {
                backend: need(storage.backend, "spec.storage.backend")?,
                file_size_limit: need(storage.file_size_limit, "spec.storage.fileSizeLimit")?,
                s3,
                volume,
            },
            smtp: spec.smtp.as_ref().map(smtp).transpose()?,
            dashboard: spec.dashboard.as_ref(),
            auth: Auth {
                disable_signup: need(auth.disable_signup, "spec.components.auth.disableSignup")?,
                enable_email_signup: need(auth.enable_email_signup, "spec.components.auth.enableEmailSignup")?,
                enable_email_autoconfirm: need(
                    auth.enable_email_autoconfirm,
                    "spec.components.auth.enableEmailAutoconfirm",
                )?,
                enable_anonymous_users: need(auth.enable_anonymous_users, "spec.components.auth.enableAnonymousUsers")?,
                additional_redirect_urls: need(
                    auth.additional_redirect_urls.as_deref(),
                    "spec.components.auth.additionalRedirectUrls",
                )?,
            },
            rest: Rest {
                schemas: need(rest.schemas.as_deref(), "spec.components.rest.schemas")?,
                max_rows: need(rest.max_rows, "spec.components.rest.maxRows")?,
            },
            studio: Studio {
                enabled: need(studio.enabled, "spec.components.studio.enabled")?,
                organization: need(studio.organization.as_deref(), "spec.components.studio.organization")?,
                project: need(studio.project.as_deref(), "spec.components.studio.project")?,
            },
            imgproxy: need(imgproxy.enabled, "spec.components.imgproxy.enabled")?,
            functions: Functions {
                enabled: need(functions.enabled, "spec.components.functions.enabled")?,
                verify_jwt: need(functions.verify_jwt, "spec.components.functions.verifyJwt")?,
                code: functions.code.as_ref(),
            },
            workloads: Workloads {
                kong: workload(c, Component::Kong)?,
                auth: workload(c, Component::Auth)?,
                rest: workload(c, Component::Rest)?,
                realtime: workload(c, Component::Realtime)?,
                imgproxy: workload(c, Component::Imgproxy)?,
                storage: workload(c, Component::Storage)?,
                meta: workload(c, Component::Meta)?,
                studio: workload(c, Component::Studio)?,
                functions: workload(c, Component::Functions)?,
            },
        })
    }

    /// The spec itself, for what reads it whole: the Secret references (`refs`), which
    /// are optional by nature.
    pub fn spec(&self) -> &'a SupabaseProjectSpec {
        self.spec
    }

    /// A component's workload.
    pub fn workload(&self, component: Component) -> &Workload<'a> {
        let w = &self.workloads;
        match component {
            Component::Kong => &w.kong,
            Component::Auth => &w.auth,
            Component::Rest => &w.rest,
            Component::Realtime => &w.realtime,
            Component::Imgproxy => &w.imgproxy,
            Component::Storage => &w.storage,
            Component::Meta => &w.meta,
            Component::Studio => &w.studio,
            Component::Functions => &w.functions,
        }
    }

    /// Whether a component is deployed (only imgproxy, Studio and Functions are optional).
    pub fn enabled(&self, component: Component) -> bool {
        match component {
            Component::Imgproxy => self.imgproxy,
            Component::Studio => self.studio.enabled,
            Component::Functions => self.functions.enabled,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CATALOG;
    use crate::defaults;

    fn spec(yaml: &str) -> SupabaseProjectSpec {
        serde_yaml::from_str(yaml).expect("spec")
    }

    const MINIMAL: &str = "apiExternalUrl: https://api.example.com\ndatabase: {secretRef: {name: db}}\n";

    #[test]
    fn a_defaulted_spec_resolves_to_what_the_user_wrote_or_the_catalog() {
        let s = defaults(spec(
            "apiExternalUrl: https://api.example.com\ndatabase: {secretRef: {name: db}, sslMode: require}\n\
             components: {rest: {maxRows: 50}, kong: {replicas: 3}}\n",
        ));
        let d = Defaulted::of(&s).expect("resolves");
        assert_eq!(d.site_url, "https://api.example.com", "the site URL defaults to the API URL");
        assert_eq!(d.database.ssl_mode, SslMode::Require);
        assert_eq!(d.rest.max_rows, 50);
        assert_eq!(d.workload(Component::Kong).replicas, 3);
        assert!(d.smtp.is_none() && d.storage.s3.is_none() && d.dashboard.is_none());
        for e in CATALOG {
            assert_eq!(d.workload(e.component).image, e.image(), "{}", e.name);
        }
        assert!(!d.enabled(Component::Studio) && d.enabled(Component::Kong));
        assert!(!d.enabled(Component::Imgproxy), "imgproxy is opt-in");
    }

    #[test]
    fn a_spec_that_was_not_defaulted_names_what_it_lacks() {
        let e = Defaulted::of(&spec(MINIMAL)).expect_err("not defaulted").to_string();
        assert!(e.ends_with("has no value: the spec was not defaulted"), "{e}");
        let mut s = defaults(spec(MINIMAL));
        s.site_url = None;
        let e = Defaulted::of(&s).expect_err("no site URL").to_string();
        assert!(e.starts_with("spec.siteUrl "), "{e}");
        let mut s = defaults(spec(MINIMAL));
        if let Some(k) = s.components.as_mut().and_then(|c| c.kong.as_mut()) {
            k.workload.replicas = None;
        }
        let e = Defaulted::of(&s).expect_err("no replicas").to_string();
        assert!(e.starts_with("spec.components.kong.replicas "), "{e}");
    }

    #[test]
    fn optional_blocks_resolve_when_given() {
        let s = defaults(spec(
            "apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n\
             storage: {backend: s3, s3: {bucket: b, region: r, endpoint: 'http://minio:9000', secretRef: {name: s3}}}\n\
             smtp: {host: smtp.example.com, sender: a@example.com, secretRef: {name: m}}\n",
        ));
        let d = Defaulted::of(&s).expect("resolves");
        let s3 = d.storage.s3.expect("s3");
        assert!(s3.force_path_style, "an endpoint means path style");
        assert_eq!(s3.endpoint, Some("http://minio:9000"));
        let smtp = d.smtp.expect("smtp");
        assert_eq!((smtp.host, smtp.sender), ("smtp.example.com", "a@example.com"));
    }
}

//! The one defaulting function. The mutating webhook answers with the JSON Patch
//! between a spec and `defaults(spec)`; it must be idempotent so a defaulted object
//! gets an empty patch.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

use crate::catalog::{Component, DEFAULT_REPLICAS, Resources};
use crate::project::*;
use crate::quantity;
use crate::refs::default_keys as keys;

/// Default libpq sslmode.
pub const DEFAULT_SSL_MODE: SslMode = SslMode::Prefer;
/// Default upload limit of Storage (50 MiB, upstream's).
pub const DEFAULT_FILE_SIZE_LIMIT: i64 = 52_428_800;
/// Default size of Storage's volume claim: the community Helm chart's
/// `persistence.storage.size` (supabase-community/supabase-kubernetes
/// charts/supabase/values.yaml @ e88d61f824c4d7178779a020e808531203e3376f). Small on
/// purpose: a claim may grow later where its class allows expansion, never shrink.
pub const DEFAULT_VOLUME_SIZE: &str = "1Gi";
/// Default lifetime of Auth's access tokens.
pub const DEFAULT_JWT_EXPIRY_SECONDS: i64 = 3600;
/// Default SMTP submission port.
pub const DEFAULT_SMTP_PORT: i32 = 587;
/// Default schemas PostgREST exposes (upstream's `PGRST_DB_SCHEMAS`).
pub const DEFAULT_REST_SCHEMAS: [&str; 3] = ["public", "storage", "graphql_public"];
/// Default PostgREST row limit.
pub const DEFAULT_REST_MAX_ROWS: i32 = 1000;

fn fill<T>(slot: &mut Option<T>, value: impl FnOnce() -> T) {
    if slot.is_none() {
        *slot = Some(value());
    }
}

fn fill_str(slot: &mut Option<String>, value: &str) {
    fill(slot, || value.to_string());
}

/// The catalog's cpu and memory, without building anything: most specs a review sees
/// are defaulted already, and then nothing needs to be.
fn pairs(r: Resources) -> [(&'static str, &'static str); 2] {
    [("cpu", r.cpu), ("memory", r.memory)]
}

/// What the spec being defaulted is, for the defaults that depend on it:
/// `spec.jwt.keys` and `spec.storage.volume`.
///
/// Upstream's generator now makes the legacy and the new keys together, so a new
/// project gets `both`. A project stored before `keys` existed has the legacy keys
/// only, and its rendered configuration must not change until its owner asks: for it,
/// an omitted `keys` means `legacy`. Likewise a new project with the `file` backend gets
/// a volume claim, and one stored before `volume` existed keeps its emptyDir (a claim
/// would start empty, and switching the pod to it is the owner's call). Only the
/// mutating webhook knows which case it has (the review's operation); everyone else
/// defaults a stored object, so the safe reading is the plain [`defaults`]: an omitted
/// `keys` never becomes `both` there, an omitted `volume` never appears, and the
/// reconciler, which defaults every object it reads, cannot turn either on.
#[derive(Clone, Debug, PartialEq)]
pub enum Admitted {
    /// A CREATE: an omitted `keys` becomes `both`, an omitted `volume` (file backend)
    /// the default claim.
    Created,
    /// An UPDATE, or an object read back: an omitted field keeps the stored value (when
    /// a client replaced the object without the field), else `keys` is `legacy` and
    /// `volume` stays omitted.
    Stored(Previous),
}

/// The stored object's values of the fields [`Admitted`] is about.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Previous {
    /// `spec.jwt.keys`.
    pub keys: Option<KeyScheme>,
    /// `spec.storage.volume`.
    pub volume: Option<StorageVolumeSpec>,
}

/// Returns the spec with every omitted field filled from the catalog and the
/// constants above, as for a stored object (an omitted `spec.jwt.keys` is `legacy`, an
/// omitted `spec.storage.volume` stays so; see [`Admitted`]). Fields the user set are
/// never changed.
pub fn defaults(spec: SupabaseProjectSpec) -> SupabaseProjectSpec {
    defaults_as(spec, Admitted::Stored(Previous::default()))
}

/// [`defaults`] for a spec admitted as `admitted`.
pub fn defaults_as(mut spec: SupabaseProjectSpec, admitted: Admitted) -> SupabaseProjectSpec {
    // A new project is on the newest release. A stored one without the field keeps it
    // omitted (its images are stored; the release they are is inferred at the end).
    if matches!(admitted, Admitted::Created) {
        fill_str(&mut spec.release, crate::release::current().name);
    }
    // Omitted images come from the project's release (an unknown name is refused by
    // the webhook; until then the newest release fills them, as before releases).
    // A stored project without the field fills a component added since (imgproxy) from
    // the release its other images are, so that it stays on that release.
    let release = spec
        .release
        .as_deref()
        .and_then(crate::release::find)
        .or_else(|| crate::release::inferred(&spec))
        .unwrap_or(crate::release::current());
    if spec.site_url.is_none() {
        spec.site_url = Some(spec.api_external_url.clone());
    }

    let db = &mut spec.database;
    fill(&mut db.ssl_mode, || DEFAULT_SSL_MODE);
    fill(&mut db.initialize, || false);
    let r = &mut db.secret_ref;
    // Literal values replace the Secret's keys, so only default the keys still read.
    if db.host.is_none() {
        fill_str(&mut r.host_key, keys::HOST);
    }
    if db.port.is_none() {
        fill_str(&mut r.port_key, keys::PORT);
    }
    if db.name.is_none() {
        fill_str(&mut r.database_key, keys::DATABASE);
    }
    fill_str(&mut r.password_key, keys::PASSWORD);

    let storage = spec.storage.get_or_insert_with(Default::default);
    fill(&mut storage.backend, || StorageBackend::File);
    fill(&mut storage.file_size_limit, || DEFAULT_FILE_SIZE_LIMIT);
    let file = storage.backend == Some(StorageBackend::File);
    if storage.volume.is_none() {
        storage.volume = match &admitted {
            // Only a backend that mounts it gets a claim by default.
            Admitted::Created if file => Some(StorageVolumeSpec::default()),
            Admitted::Created => None,
            // With s3 the claim is not mounted: dropping the field loses nothing.
            Admitted::Stored(previous) if file => previous.volume.clone(),
            Admitted::Stored(_) => None,
        };
    }
    if let Some(volume) = storage.volume.as_mut() {
        fill(&mut volume.size, || Quantity(DEFAULT_VOLUME_SIZE.to_string()));
        fill(&mut volume.access_modes, || vec![VolumeAccessMode::ReadWriteOnce]);
        fill(&mut volume.when_deleted, || VolumeRetention::Retain);
    }
    if let Some(s3) = storage.s3.as_mut() {
        let has_endpoint = s3.endpoint.is_some();
        fill(&mut s3.force_path_style, || has_endpoint);
        fill_str(&mut s3.secret_ref.access_key_id_key, keys::ACCESS_KEY_ID);
        fill_str(&mut s3.secret_ref.secret_access_key_key, keys::SECRET_ACCESS_KEY);
    }

    let jwt = spec.jwt.get_or_insert_with(Default::default);
    fill(&mut jwt.expiry_seconds, || DEFAULT_JWT_EXPIRY_SECONDS);
    if let Some(r) = jwt.secret_ref.as_mut() {
        fill_str(&mut r.secret_key, keys::SECRET);
        fill_str(&mut r.anon_key_key, keys::ANON_KEY);
        fill_str(&mut r.service_key_key, keys::SERVICE_KEY);
    }
    fill(&mut jwt.keys, || match &admitted {
        Admitted::Created => KeyScheme::Both,
        Admitted::Stored(previous) => previous.keys.unwrap_or(KeyScheme::Legacy),
    });
    // The public set and the internal JWTs are optional in these Secrets (the operator
    // derives or signs them), so their key names have no default.
    if let Some(r) = jwt.signing_keys_ref.as_mut() {
        fill_str(&mut r.keys_key, crate::refs::jwt_keys::SIGNING_KEYS);
    }
    if let Some(r) = jwt.api_keys_ref.as_mut() {
        fill_str(&mut r.publishable_key_key, crate::refs::jwt_keys::PUBLISHABLE_KEY);
        fill_str(&mut r.secret_key_key, crate::refs::jwt_keys::SECRET_KEY);
    }

    if let Some(smtp) = spec.smtp.as_mut() {
        fill(&mut smtp.port, || DEFAULT_SMTP_PORT);
        fill_str(&mut smtp.sender_name, "Supabase");
        credentials(&mut smtp.secret_ref);
    }
    if let Some(dashboard) = spec.dashboard.as_mut() {
        credentials(&mut dashboard.secret_ref);
    }

    // Without SMTP no confirmation mail can be sent: confirming addresses would leave every
    // email sign-up unfinishable (upstream's .env pairs its fake SMTP with autoconfirm off).
    let autoconfirm = spec.smtp.is_none();
    let c = spec.components.get_or_insert_with(Default::default);
    let workload = |w: &mut WorkloadSpec, component: Component| workload(w, component, release.image(component));
    workload(&mut c.kong.get_or_insert_with(Default::default).workload, Component::Kong);

    let auth = c.auth.get_or_insert_with(Default::default);
    workload(&mut auth.workload, Component::Auth);
    fill(&mut auth.disable_signup, || false);
    fill(&mut auth.enable_email_signup, || true);
    fill(&mut auth.enable_email_autoconfirm, || autoconfirm);
    fill(&mut auth.enable_anonymous_users, || false);
    fill(&mut auth.additional_redirect_urls, Vec::new);

    let rest = c.rest.get_or_insert_with(Default::default);
    workload(&mut rest.workload, Component::Rest);
    fill(&mut rest.schemas, || DEFAULT_REST_SCHEMAS.iter().map(|s| s.to_string()).collect());
    fill(&mut rest.max_rows, || DEFAULT_REST_MAX_ROWS);

    let realtime = c.realtime.get_or_insert_with(Default::default);
    workload(&mut realtime.workload, Component::Realtime);
    if let Some(r) = realtime.secret_ref.as_mut() {
        fill_str(&mut r.secret_key_base_key, keys::SECRET_KEY_BASE);
        fill_str(&mut r.db_enc_key_key, keys::DB_ENC_KEY);
    }

    let imgproxy = c.imgproxy.get_or_insert_with(Default::default);
    workload(&mut imgproxy.workload, Component::Imgproxy);
    fill(&mut imgproxy.enabled, || Component::Imgproxy.entry().enabled_by_default);

    workload(&mut c.storage.get_or_insert_with(Default::default).workload, Component::Storage);

    let meta = c.meta.get_or_insert_with(Default::default);
    workload(&mut meta.workload, Component::Meta);
    if let Some(r) = meta.secret_ref.as_mut() {
        fill_str(&mut r.crypto_key_key, keys::CRYPTO_KEY);
    }

    let studio = c.studio.get_or_insert_with(Default::default);
    workload(&mut studio.workload, Component::Studio);
    fill(&mut studio.enabled, || Component::Studio.entry().enabled_by_default);
    if let Some(r) = studio.ai_secret_ref.as_mut() {
        fill_str(&mut r.openai_api_key_key, keys::OPENAI_API_KEY);
    }
    fill_str(&mut studio.organization, "Default Organization");
    fill_str(&mut studio.project, "Default Project");

    // A project stored before `release` existed whose images are a known release's set
    // is on that release (its images do not change; the name is now written down).
    if spec.release.is_none() {
        spec.release = crate::release::inferred(&spec).map(|r| r.name.to_string());
    }
    // Components newer than `spec.release` take the image of the release just inferred.
    let release = spec.release.as_deref().and_then(crate::release::find).unwrap_or(crate::release::current());
    let c = spec.components.get_or_insert_with(Default::default);
    let functions = c.functions.get_or_insert_with(Default::default);
    self::workload(&mut functions.workload, Component::Functions, release.image(Component::Functions));
    fill(&mut functions.enabled, || Component::Functions.entry().enabled_by_default);
    // Upstream's docker/.env.example: FUNCTIONS_VERIFY_JWT=false.
    fill(&mut functions.verify_jwt, || false);
    spec
}

fn credentials(r: &mut CredentialsSecretRef) {
    fill_str(&mut r.username_key, keys::USERNAME);
    fill_str(&mut r.password_key, keys::PASSWORD);
}

fn below(a: &Quantity, b: &Quantity) -> bool {
    matches!((quantity::parse(&a.0), quantity::parse(&b.0)), (Ok(a), Ok(b)) if a < b)
}

fn workload(w: &mut WorkloadSpec, component: Component, image: &str) {
    let entry = component.entry();
    fill_str(&mut w.image, image);
    if w.autoscaling.is_some() {
        // The autoscaler sets the number of pods; a stored `replicas` (often this
        // function's own earlier default) would only claim a number nobody keeps.
        // Precedence as the community chart: supabase-community/supabase-kubernetes
        // charts/supabase/templates/kong/deployment.yaml @1513a3b037c2c6dc7ffbf1f6fbde64deebbbc335
        // renders `replicas` only `if not .Values.kong.autoscaling.enabled`.
        w.replicas = None;
    } else {
        fill(&mut w.replicas, || DEFAULT_REPLICAS);
    }
    let resources = w.resources.get_or_insert_with(ResourceRequirements::default);
    // Fill cpu and memory separately: a user who set only a memory limit still gets the
    // catalog's cpu limit, and no request is defaulted above a limit the user chose.
    let limits = resources.limits.get_or_insert_with(BTreeMap::new);
    for (k, v) in pairs(entry.limits) {
        if !limits.contains_key(k) {
            limits.insert(k.to_string(), Quantity(v.to_string()));
        }
    }
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (k, v) in pairs(entry.requests) {
        if requests.contains_key(k) {
            continue;
        }
        let v = Quantity(v.to_string());
        // A user limit below the catalog request lowers the defaulted request to it.
        let value = match resources.limits.as_ref().and_then(|l| l.get(k)) {
            Some(limit) if below(limit, &v) => limit.clone(),
            _ => v,
        };
        requests.insert(k.to_string(), value);
    }
    fill(&mut w.env, Vec::new);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CATALOG;

    fn minimal() -> SupabaseProjectSpec {
        SupabaseProjectSpec {
            api_external_url: "https://api.example.com".into(),
            database: DatabaseSpec {
                secret_ref: DatabaseSecretRef { name: "db".into(), ..Default::default() },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Paths that stay omitted after defaulting on purpose: optional blocks the user did
    /// not ask for, literals that replace Secret keys, scheduling, and the insides of
    /// Kubernetes' own types.
    const MAY_STAY_OMITTED: &[&str] = &[
        "spec.smtp",
        "spec.dashboard",
        "spec.jwt.secretRef",
        "spec.jwt.signingKeyId",
        "spec.jwt.signingKeysRef",
        "spec.jwt.apiKeysRef",
        "spec.storage.s3",
        // Optional: without it the component runs `replicas` pods.
        "spec.components.*.autoscaling",
        // A project stored before the field keeps its emptyDir; no class means the default.
        "spec.storage.volume",
        "spec.storage.volume.storageClassName",
        "spec.database.host",
        "spec.database.port",
        "spec.database.name",
        "spec.components.*.nodeSelector",
        "spec.components.*.tolerations",
        "spec.components.*.affinity",
        "spec.components.*.secretRef",
        "spec.components.*.resources.claims",
        // Optional: Studio runs without an AI key.
        "spec.components.studio.aiSecretRef",
        // The user's, required only with Edge Functions enabled (admission).
        "spec.components.functions.code",
        // Optional: without it the API stays inside the cluster.
        "spec.gateway",
    ];

    fn may_stay_omitted(path: &str) -> bool {
        MAY_STAY_OMITTED.iter().any(|p| match p.split_once(".*.") {
            Some((head, tail)) => path.starts_with(head) && path.ends_with(&format!(".{tail}")),
            None => path == *p,
        })
    }

    /// Lists every property of the CRD schema that is absent from `value`.
    fn missing(schema: &serde_json::Value, value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else {
            return;
        };
        for (key, sub) in props {
            let p = format!("{path}.{key}");
            match value.get(key) {
                None if !may_stay_omitted(&p) => out.push(p),
                // Descend into our own types, not into Kubernetes' (resources' quantities).
                Some(v) if !p.ends_with(".resources.limits") && !p.ends_with(".resources.requests") => {
                    missing(sub, v, &p, out)
                }
                _ => {}
            }
        }
    }

    #[test]
    fn defaulting_is_idempotent() {
        let once = defaults(minimal());
        assert_ne!(once, minimal());
        assert_eq!(defaults(once.clone()), once);
    }

    #[test]
    fn every_component_is_filled_from_the_catalog() {
        let d = defaults(minimal());
        let c = d.components.as_ref().map(ComponentsSpec::workloads).unwrap_or_default();
        assert_eq!(c.len(), CATALOG.len());
        for (entry, w) in CATALOG.iter().zip(c) {
            assert_eq!(w.image.as_deref(), Some(entry.image()), "{}", entry.name);
            assert_eq!(w.replicas, Some(DEFAULT_REPLICAS));
            let r = w.resources.clone().unwrap_or_default();
            let limits = r.limits.unwrap_or_default();
            assert_eq!(limits.get("memory"), Some(&Quantity(entry.limits.memory.into())));
            assert_eq!(limits.get("cpu"), Some(&Quantity(entry.limits.cpu.into())));
            let requests = r.requests.unwrap_or_default();
            assert_eq!(requests.get("memory"), Some(&Quantity(entry.requests.memory.into())));
        }
    }

    #[test]
    fn every_schema_field_is_set_after_defaulting() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(crate::SupabaseProject::crd()).unwrap_or_default();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(schema.get("properties").is_some(), "no spec schema found");
        let value = serde_json::to_value(defaults(minimal())).unwrap_or_default();
        let mut out = Vec::new();
        missing(schema, &value, "spec", &mut out);
        assert!(out.is_empty(), "not defaulted: {out:?}");
        // The check itself must see an undefaulted spec as incomplete.
        let raw = serde_json::to_value(minimal()).unwrap_or_default();
        let mut raw_missing = Vec::new();
        missing(schema, &raw, "spec", &mut raw_missing);
        assert!(raw_missing.contains(&"spec.components".to_string()));
    }

    #[test]
    fn user_values_are_kept() {
        let mut spec = minimal();
        spec.site_url = Some("https://app.example.com".into());
        spec.database.port = Some(6543);
        spec.components = Some(ComponentsSpec {
            auth: Some(AuthSpec {
                workload: WorkloadSpec {
                    replicas: Some(3),
                    image: Some("registry.example.com/gotrue:v2".into()),
                    ..Default::default()
                },
                disable_signup: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
        let d = defaults(spec);
        assert_eq!(d.site_url.as_deref(), Some("https://app.example.com"));
        // A literal port means the Secret's port key is not read, so not defaulted.
        assert_eq!(d.database.secret_ref.port_key, None);
        let auth = d.components.and_then(|c| c.auth).unwrap_or_default();
        assert_eq!(auth.workload.replicas, Some(3));
        assert_eq!(auth.workload.image.as_deref(), Some("registry.example.com/gotrue:v2"));
        assert_eq!(auth.disable_signup, Some(true));
        assert_eq!(auth.enable_email_signup, Some(true));
    }

    #[test]
    fn an_autoscaler_takes_the_place_of_replicas() {
        let autoscaling = crate::scaling::AutoscalingSpec {
            min_replicas: 2,
            max_replicas: 5,
            target_cpu_utilization_percentage: Some(70),
            ..Default::default()
        };
        let mut spec = minimal();
        spec.components = Some(ComponentsSpec {
            kong: Some(KongSpec {
                workload: WorkloadSpec {
                    replicas: Some(3),
                    autoscaling: Some(autoscaling.clone()),
                    ..Default::default()
                },
            }),
            ..Default::default()
        });
        let d = defaults(spec);
        let kong = d.components.as_ref().and_then(|c| c.kong.as_ref()).map(|k| k.workload.clone()).unwrap_or_default();
        assert_eq!((kong.replicas, kong.autoscaling), (None, Some(autoscaling)));
        assert_eq!(defaults(d.clone()), d, "idempotent");
        let auth = d.components.as_ref().and_then(|c| c.auth.as_ref()).and_then(|a| a.workload.replicas);
        assert_eq!(auth, Some(DEFAULT_REPLICAS), "the others keep their default");
    }

    #[test]
    fn email_autoconfirm_defaults_on_only_without_smtp() {
        let autoconfirm =
            |spec| defaults(spec).components.and_then(|c| c.auth).and_then(|a| a.enable_email_autoconfirm);
        assert_eq!(autoconfirm(minimal()), Some(true), "no mail could confirm an address");
        let mut with_smtp = minimal();
        with_smtp.smtp = Some(
            serde_json::from_value(serde_json::json!({
                "host": "smtp.example.com", "sender": "no-reply@example.com", "secretRef": {"name": "smtp"}
            }))
            .expect("smtp spec"),
        );
        assert_eq!(autoconfirm(with_smtp), Some(false), "confirmation mails can be sent");
    }

    #[test]
    fn a_low_user_limit_lowers_the_defaulted_request() {
        let mut spec = minimal();
        let limits = BTreeMap::from([("memory".to_string(), Quantity("32Mi".into()))]);
        spec.components = Some(ComponentsSpec {
            meta: Some(MetaSpec {
                workload: WorkloadSpec {
                    resources: Some(ResourceRequirements { limits: Some(limits), ..Default::default() }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        });
        let d = defaults(spec);
        let r = d.components.and_then(|c| c.meta).and_then(|m| m.workload.resources).unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        assert_eq!(requests.get("memory"), Some(&Quantity("32Mi".into())));
        assert_eq!(requests.get("cpu"), Some(&Quantity(Component::Meta.entry().requests.cpu.into())));
    }

    #[test]
    fn a_new_project_gets_both_key_schemes_and_a_stored_one_keeps_its_own() {
        let scheme = |spec: &SupabaseProjectSpec| spec.jwt.as_ref().and_then(|j| j.keys);
        assert_eq!(scheme(&defaults_as(minimal(), Admitted::Created)), Some(KeyScheme::Both));
        // Stored before the field existed: legacy, whoever defaults it (the reconciler
        // calls `defaults` on every object it reads).
        assert_eq!(scheme(&defaults(minimal())), Some(KeyScheme::Legacy));
        assert_eq!(scheme(&defaults_as(minimal(), Admitted::Stored(Previous::default()))), Some(KeyScheme::Legacy));
        // Replaced without the field: the stored value stays.
        let stored = Previous { keys: Some(KeyScheme::Both), ..Default::default() };
        assert_eq!(scheme(&defaults_as(minimal(), Admitted::Stored(stored))), Some(KeyScheme::Both));
        // What the user wrote wins in every case.
        let mut legacy = minimal();
        legacy.jwt = Some(JwtSpec { keys: Some(KeyScheme::Legacy), ..Default::default() });
        assert_eq!(scheme(&defaults_as(legacy.clone(), Admitted::Created)), Some(KeyScheme::Legacy));
        let mut both = minimal();
        both.jwt = Some(JwtSpec { keys: Some(KeyScheme::Both), ..Default::default() });
        assert_eq!(scheme(&defaults(both)), Some(KeyScheme::Both));
        // A new project's defaults are idempotent under the stored reading too, so the
        // reconciler's own `defaults` changes nothing of what the webhook stored.
        let created = defaults_as(minimal(), Admitted::Created);
        assert_eq!(defaults(created.clone()), created);
    }

    #[test]
    fn a_new_file_project_gets_a_retained_claim_and_a_stored_one_keeps_its_emptydir() {
        let volume = |spec: &SupabaseProjectSpec| spec.storage.as_ref().and_then(|s| s.volume.clone());
        let created = volume(&defaults_as(minimal(), Admitted::Created)).expect("a new project gets a claim");
        assert_eq!(created.size, Some(Quantity("1Gi".into())));
        assert_eq!(created.access_modes, Some(vec![VolumeAccessMode::ReadWriteOnce]));
        assert_eq!(created.when_deleted, Some(VolumeRetention::Retain), "deleting a project keeps the files");
        assert_eq!(created.storage_class_name, None, "the cluster's default class");
        // Stored before the field existed: no claim, whoever defaults it.
        assert_eq!(volume(&defaults(minimal())), None);
        // Replaced without the field: the stored claim stays.
        let stored = Previous { volume: Some(created.clone()), ..Default::default() };
        assert_eq!(volume(&defaults_as(minimal(), Admitted::Stored(stored.clone()))), Some(created.clone()));
        // The s3 backend mounts no claim: none by default, and dropping it is allowed.
        let mut s3 = minimal();
        s3.storage = Some(StorageSpec { backend: Some(StorageBackend::S3), ..Default::default() });
        assert_eq!(volume(&defaults_as(s3.clone(), Admitted::Created)), None);
        assert_eq!(volume(&defaults_as(s3, Admitted::Stored(stored))), None);
        // An owner who sets `volume: {}` gets the defaults; what they wrote stays.
        let mut asked = minimal();
        asked.storage = Some(StorageSpec {
            volume: Some(StorageVolumeSpec {
                size: Some(Quantity("20Gi".into())),
                when_deleted: Some(VolumeRetention::Delete),
                ..Default::default()
            }),
            ..Default::default()
        });
        let v = volume(&defaults(asked)).expect("kept");
        assert_eq!(v.size, Some(Quantity("20Gi".into())));
        assert_eq!(v.when_deleted, Some(VolumeRetention::Delete));
        assert_eq!(v.access_modes, Some(vec![VolumeAccessMode::ReadWriteOnce]));
        let created = defaults_as(minimal(), Admitted::Created);
        assert_eq!(defaults(created.clone()), created, "idempotent under the stored reading");
    }

    #[test]
    fn key_reference_names_are_defaulted_except_the_optional_ones() {
        let mut spec = minimal();
        spec.jwt = Some(JwtSpec {
            signing_keys_ref: Some(SigningKeysSecretRef { name: "keys".into(), ..Default::default() }),
            api_keys_ref: Some(ApiKeysSecretRef { name: "api".into(), ..Default::default() }),
            ..Default::default()
        });
        let jwt = defaults(spec).jwt.unwrap_or_default();
        let signing = jwt.signing_keys_ref.unwrap_or_default();
        assert_eq!((signing.keys_key.as_deref(), signing.jwks_key), (Some("keys"), None));
        let api = jwt.api_keys_ref.unwrap_or_default();
        assert_eq!(api.publishable_key_key.as_deref(), Some("publishableKey"));
        assert_eq!(api.secret_key_key.as_deref(), Some("secretKey"));
        assert_eq!((api.anon_jwt_key, api.service_jwt_key), (None, None));
    }

    #[test]
    fn s3_path_style_follows_the_endpoint() {
        let mut spec = minimal();
        spec.storage = Some(StorageSpec {
            backend: Some(StorageBackend::S3),
            s3: Some(S3Spec {
                bucket: "b".into(),
                region: "us-east-1".into(),
                endpoint: Some("http://minio:9000".into()),
                secret_ref: S3SecretRef { name: "s3".into(), ..Default::default() },
                ..Default::default()
            }),
            ..Default::default()
        });
        let d = defaults(spec);
        let s3 = d.storage.and_then(|s| s.s3).unwrap_or_default();
        assert_eq!(s3.force_path_style, Some(true));
        assert_eq!(s3.secret_ref.access_key_id_key.as_deref(), Some("accessKeyId"));
    }
}

//! Edge Functions: `supabase/edge-runtime` as upstream's `docker-compose.yml` (service
//! `functions`, supabase/supabase @ 1f37f2a9d82d) runs it, with the operator's own "main"
//! service (`functions-main.ts`, in a ConfigMap) and the user's code from a ConfigMap or a
//! volume claim. `reconciler/contracts/functions.toml` lists upstream's items.

use std::collections::BTreeMap;

use crds::Component;
use crds::project::FunctionsCode;
use crds::refs::Value;
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, PersistentVolumeClaimVolumeSource, Volume, VolumeMount};

use super::container::scratch;
use super::env::{Env, UrlClient};
use super::{Ctx, Rendered, config_map};
use crate::Error;

/// The operator's main service (see the file's header).
const MAIN: &str = include_str!("functions-main.ts");
/// Where the main service is mounted: outside the functions directory, so a user's volume
/// there needs no `main` of its own and cannot replace the operator's.
pub(super) const MAIN_DIR: &str = "/home/deno/main";
/// Where upstream mounts the functions (compose: `./volumes/functions:/home/deno/functions`).
pub(super) const FUNCTIONS_DIR: &str = "/home/deno/functions";
/// The runtime's module cache (upstream's named volume at `/root/.cache/deno`, the cache
/// of a root user): an emptyDir, since the container is not root.
pub(super) const DENO_DIR: &str = "/var/cache/deno";
/// Upstream's `--user-worker-request-idle-timeout` (ms); Kong's read timeout leaves 10 s more.
const IDLE_TIMEOUT_MS: &str = "150000";

/// The database login, from the component's description.
const DB_ROLE: &str = super::db_role(Component::Functions);

/// The code's volume; an empty directory when there is no code, which admission allows only
/// while Functions is disabled (its objects are then rendered but never applied).
fn code_volume(code: Option<&FunctionsCode>) -> Result<Volume, Error> {
    let volume = Volume { name: "functions".into(), ..Default::default() };
    let Some(code) = code else {
        return Ok(Volume { empty_dir: Some(Default::default()), ..volume });
    };
    match (&code.config_map, &code.claim_name) {
        (Some(cm), None) => Ok(Volume {
            config_map: Some(ConfigMapVolumeSource {
                name: cm.name.clone(),
                items: Some(cm.items.clone()),
                optional: Some(false),
                ..Default::default()
            }),
            ..volume
        }),
        (None, Some(claim)) => Ok(Volume {
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(true),
            }),
            ..volume
        }),
        _ => Err(Error::Render("functions: spec.components.functions.code names neither or both sources".into())),
    }
}

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let functions = ctx.spec.functions;
    let name = format!("{}-main", ctx.object_name(Component::Functions));
    let cm = config_map(
        ctx,
        name.clone(),
        Component::Functions.name(),
        BTreeMap::from([("index.ts".to_string(), MAIN.to_string())]),
    );

    let mut env = Env::new(ctx);
    env.lit("DENO_DIR", DENO_DIR)
        .from("JWT_SECRET", Value::JwtSecret)?
        // The public key set the main service checks ES256/RS256 tokens with (upstream's
        // SUPABASE_JWKS, commented out in compose @ 1f37f2a9d82d): with the new keys the
        // gateway's internal JWTs are ES256.
        .new_key("SUPABASE_JWKS", Value::PublicKeys)?
        .lit("SUPABASE_URL", ctx.url(Component::Kong))
        .lit("SUPABASE_PUBLIC_URL", ctx.spec.api_external_url)
        .from("SUPABASE_ANON_KEY", Value::AnonKey)?
        .from("SUPABASE_SERVICE_ROLE_KEY", Value::ServiceKey)?;
    if ctx.new_keys() {
        // Upstream's SUPABASE_PUBLISHABLE_KEYS / SUPABASE_SECRET_KEYS are `{"default":"<key>"}`;
        // the key reaches the container from the Secret and the kubelet splices it in
        // (`sb_` keys are base64url text: nothing to escape in JSON).
        env.from("SUPABASE_PUBLISHABLE_KEY", Value::PublishableKey)?
            .from("SUPABASE_SECRET_KEY", Value::SecretApiKey)?
            .lit("SUPABASE_PUBLISHABLE_KEYS", r#"{"default":"$(SUPABASE_PUBLISHABLE_KEY)"}"#)
            .lit("SUPABASE_SECRET_KEYS", r#"{"default":"$(SUPABASE_SECRET_KEY)"}"#);
    }
    // A URL without the password, and PGPASSWORD beside it (env.rs): postgres.js, node-postgres
    // and deno-postgres, which functions use, read PGPASSWORD for a URL without one.
    env.db_url("SUPABASE_DB_URL", DB_ROLE, UrlClient::Libpq)?.lit("VERIFY_JWT", functions.verify_jwt.to_string());

    let main_volume = Volume {
        name: "main".into(),
        config_map: Some(ConfigMapVolumeSource { name, ..Default::default() }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    };
    Ok(Rendered {
        env: env.finish(),
        config_maps: vec![cm],
        volumes: vec![
            (main_volume, mount("main", MAIN_DIR)),
            (code_volume(functions.code)?, mount("functions", FUNCTIONS_DIR)),
            scratch("deno-cache", DENO_DIR),
            // User workers' temporary files (supabase/edge-runtime crates/base/src/runtime/mod.rs
            // @ v1.74.0 mounts /tmp as their tmp fs).
            scratch("tmp", "/tmp"),
        ],
        // The image's entrypoint is `edge-runtime`; upstream's compose gives these arguments.
        args: Some(vec![
            "start".into(),
            "--user-worker-request-idle-timeout".into(),
            IDLE_TIMEOUT_MS.into(),
            "--main-service".into(),
            MAIN_DIR.into(),
        ]),
        read_only_root: true,
        ..Default::default()
    })
}

//! Realtime, configured as upstream's `docker-compose.yml` does. Realtime is multi-tenant
//! even self-hosted and takes the tenant from the first label of the Host header; Kong
//! proxies to `http://<project>-realtime:4000`, so that Host label is the tenant the pod
//! seeds (`SELF_HOST_TENANT_NAME`).
//!
//! Facts are from supabase/supabase `docker/docker-compose.yml` @ 1f37f2a9d82d and
//! supabase/realtime `run.sh`, `config/runtime.exs`, `rel/env.sh.eex` @ v2.129.8
//! (2aa997873a5e; the newest tag readable, v2.134.10 was not), recorded in
//! `reconciler/contracts/realtime.toml`.

use crds::Component;
use crds::refs::Value;

use super::container::scratch;
use super::env::Env;
use super::{Ctx, Rendered};
use crate::Error;

/// Realtime and postgres-meta connect as the Supabase superuser role.
pub(super) const DB_ROLE: &str = super::db_role(Component::Realtime);

/// The image's entrypoint `run.sh` drops to `nobody` with `sudo -E -u nobody` (v2.102.3
/// to v2.129.8; a newer stored run.sh, 025b1ce16028, uses `runuser` only when root), which
/// cannot work in a container
/// that already runs as `nobody` without privilege escalation. So the container runs the
/// same steps itself, under the image's `tini` as PID 1 like the image's ENTRYPOINT: the
/// open-files limit, the crash-dump path, the migrations, the seeds when `SEED_SELF_HOST`
/// is `true`, then the server. Failing `ulimit` (a hard limit below RLIMIT_NOFILE) only
/// warns: the server runs with the limit it has rather than not at all.
pub(super) const START: &str = r#"set -euo pipefail
if [ -n "${RLIMIT_NOFILE:-}" ]; then
    ulimit -Sn "$RLIMIT_NOFILE" || echo "RLIMIT_NOFILE: cannot raise the soft limit above $(ulimit -Hn)"
fi
export ERL_CRASH_DUMP=/tmp/erl_crash.dump
echo "Running migrations"
/app/bin/migrate
if [ "${SEED_SELF_HOST-}" = true ]; then
    echo "Seeding selfhosted Realtime"
    /app/bin/realtime eval 'Realtime.Release.seeds(Realtime.Repo)'
fi
echo "Starting Realtime"
exec /app/bin/server
"#;

/// The image's init (its ENTRYPOINT without `run.sh`).
pub(super) const INIT: [&str; 4] = ["/usr/bin/tini", "-s", "-g", "--"];

/// The tenant Realtime seeds: the first label of the host Kong sends, i.e. the Service name.
pub(super) fn tenant(ctx: &Ctx<'_>) -> String {
    ctx.object_name(Component::Realtime)
}

pub(super) fn render(ctx: &Ctx<'_>) -> Result<Rendered, Error> {
    let mut env = Env::new(ctx);
    env.lit("PORT", Component::Realtime.entry().port.to_string())
        .from("DB_HOST", Value::DbHost)?
        .from("DB_PORT", Value::DbPort)?
        .from("DB_NAME", Value::DbName)?
        .lit("DB_USER", DB_ROLE)
        .from("DB_PASSWORD", Value::DbPassword)?;
    // Realtime (Postgrex) has TLS on or off, without fallback; on, it encrypts without
    // verifying the certificate (libpq's `require`), whatever stricter mode the spec asks.
    // This is Realtime's own connection (and libcluster's); the tenant connection the seed
    // writes has `ssl_enforced: false` hard-coded (priv/repo/seeds.exs), so it stays plain.
    let tls = env.tls_required();
    env.lit("DB_SSL", tls.to_string())
        // Realtime's own tables live in `_realtime`, apart from the `realtime` schema it serves.
        .lit("DB_AFTER_CONNECT_QUERY", "SET search_path TO _realtime")
        .from("DB_ENC_KEY", Value::RealtimeDbEncKey)?
        .from("API_JWT_SECRET", Value::JwtSecret)?
        // The public set, an object (`{"keys": [...]}`: the tenant's `jwt_jwks` is a map, an
        // array is refused). Read by the seed, which re-creates the tenant at each start
        // (priv/repo/seeds.exs @ v2.129.8 2aa99787; compose @ 1f37f2a9d82d has it commented
        // out for Podman's sake).
        .new_key("API_JWT_JWKS", Value::PublicKeys)?
        .from("METRICS_JWT_SECRET", Value::JwtSecret)?
        .from("SECRET_KEY_BASE", Value::RealtimeSecretKeyBase)?
        // Erlang distribution over IPv4, as upstream (the image's default is IPv6).
        .lit("ERL_AFLAGS", "-proto_dist inet_tcp")
        // Only read by the DNS clustering strategy, which is not used; as upstream.
        .lit("DNS_NODES", "''")
        .lit("RLIMIT_NOFILE", "10000")
        .lit("APP_NAME", "realtime")
        .lit("SEED_SELF_HOST", "true")
        .lit("SELF_HOST_TENANT_NAME", tenant(ctx))
        .lit("RUN_JANITOR", "true")
        .lit("DISABLE_HEALTHCHECK_LOGGING", "true")
        // Several replicas form one Erlang cluster: rel/env.sh.eex names the node
        // `realtime@$POD_IP` (127.0.0.1 without it, the same name on every pod), the nodes
        // find each other through the database (`POSTGRES`, runtime.exs' prod default,
        // written out so an image changing it cannot split the cluster), and they must share
        // one cookie, generated once into the project's internal Secret.
        .field("POD_IP", "status.podIP")
        .lit("CLUSTER_STRATEGIES", "POSTGRES")
        .from("RELEASE_COOKIE", Value::RealtimeReleaseCookie)?;
    let command = INIT.iter().map(|s| s.to_string()).chain(["bash".into(), "-c".into(), START.into()]).collect();
    Ok(Rendered {
        env: env.finish(),
        command: Some(command),
        // The release writes its runtime config under /app/tmp, run.sh's crash dump goes to
        // /tmp, and the pg-delta wrapper unpacks into /app/.pgdelta-cache (Dockerfile).
        volumes: vec![
            scratch("tmp", "/tmp"),
            scratch("release-tmp", "/app/tmp"),
            scratch("pgdelta", "/app/.pgdelta-cache"),
        ],
        read_only_root: true,
        ..Default::default()
    })
}

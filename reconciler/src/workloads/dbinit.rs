//! The database initialization Job: `psql` runs idempotent SQL from a ConfigMap, as the
//! database superuser, with the project password from the Secret.

use std::collections::BTreeMap;

use crds::names;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;

use super::psql_job::{self, PsqlJob};
use super::{Ctx, config_map};
use crate::Error;

/// The SQL the Job runs.
pub(super) const SQL: &str = include_str!("dbinit.sql");

/// The image with `psql`. The official PostgreSQL image, pinned: psql 17 talks to every
/// server Supabase supports (15 and 17) and has `\getenv` (psql 15+), which reads the
/// password from the environment into a variable without a shell or a command-line argument
/// (an argument would show in the process list). Alpine keeps the pull small, and the image
/// has a numeric non-root user (`postgres`, uid 70).
pub const DB_INIT_IMAGE: &str = "postgres:17.6-alpine";

/// The role the Job connects as: the database superuser, which can create the roles
/// (`supabase_admin` is a superuser), with the project password.
pub const DB_INIT_USER: &str = "postgres";

/// `postgres` in the Alpine PostgreSQL image.
pub(super) const PSQL_UID: i64 = 70;

/// The `app.kubernetes.io/component` of the Job and its ConfigMap.
const COMPONENT: &str = "db-init";
const SQL_DIR: &str = "/etc/supabase-db-init";
const SQL_KEY: &str = "init.sql";

pub(super) fn render(ctx: &Ctx<'_>) -> Result<(ConfigMap, Job), Error> {
    let name = names::db_init_job(&ctx.name);
    let cm = config_map(ctx, name.clone(), COMPONENT, BTreeMap::from([(SQL_KEY.to_string(), SQL.to_string())]));
    let env = psql_job::connection_env(ctx, DB_INIT_USER, "supabase-operator-db-init")?;
    let file = format!("{SQL_DIR}/{SQL_KEY}");
    let job = psql_job::job(
        ctx,
        PsqlJob {
            name: name.clone(),
            component: COMPONENT,
            labels: names::labels(&ctx.name, COMPONENT),
            config_map: name,
            sql_dir: SQL_DIR,
            command: ["psql", "--no-psqlrc", "--file", &file].iter().map(|s| s.to_string()).collect(),
            env,
            // The database may still be starting: retry with the Job's exponential backoff
            // (about ten minutes over six tries) before reporting failure.
            backoff_limit: 6,
            termination_message_file: false,
        },
    );
    Ok((cm, job))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{full, minimal};
    use super::super::{CONFIG_HASH_ANNOTATION, db_init};
    use super::*;

    #[test]
    fn the_sql_never_holds_a_password_and_reads_it_from_the_environment() {
        assert!(SQL.contains("\\getenv project_password PGPASSWORD"));
        // Passwords are only ever the variable, formatted with %L inside the DO block.
        for line in SQL.lines() {
            let upper = line.to_uppercase();
            if upper.contains("PASSWORD '") || upper.contains("PASSWORD \"") {
                panic!("a literal password: {line}");
            }
        }
        assert!(SQL.contains(":'project_password'"), "quoted as a literal by psql");
        // The statement that carries the password prints only a boolean to the Job's log.
        let line = SQL.lines().find(|l| l.contains(":'project_password'")).unwrap_or_default();
        assert!(line.contains("IS NOT NULL AS"), "{line}");
        let (cm, _) = db_init(&full()).expect("renders");
        assert_eq!(cm.data.as_ref().map(|d| d["init.sql"].as_str()), Some(SQL));
    }

    #[test]
    fn every_create_is_guarded_and_nothing_is_dropped() {
        let lines: Vec<&str> = SQL.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("--")).collect();
        let mut creates = 0;
        for (i, line) in lines.iter().enumerate() {
            let upper = line.to_uppercase();
            // NOTICE texts and the session's own temporary helper are not objects created.
            let counted = !upper.contains("RAISE NOTICE") && !upper.contains("PROCEDURE PG_TEMP.");
            let creates_something = upper.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == "CREATE");
            if counted && creates_something && !upper.contains("CREATE OR REPLACE") {
                creates += 1;
                let guarded = upper.contains("IF NOT EXISTS")
                    || lines[..i].iter().rev().take(8).any(|l| l.to_uppercase().contains("IF NOT EXISTS (SELECT"));
                assert!(guarded, "unguarded: {line}");
            }
            for word in ["DROP ", "TRUNCATE ", "DELETE ", "CREATE OR REPLACE"] {
                assert!(!upper.contains(word), "destructive: {line}");
            }
        }
        assert!(creates >= 10, "the check saw the CREATEs ({creates})");
        for needle in [
            "'anon'",
            "'authenticated'",
            "'service_role'",
            "'authenticator'",
            "'supabase_auth_admin'",
            "'supabase_storage_admin'",
            "'supabase_admin'",
            "SCHEMA IF NOT EXISTS auth ",
            "SCHEMA IF NOT EXISTS storage ",
            "SCHEMA IF NOT EXISTS realtime ",
            "SCHEMA IF NOT EXISTS _realtime ",
            "SCHEMA IF NOT EXISTS graphql_public",
            "EXTENSION IF NOT EXISTS pgcrypto",
            "EXTENSION IF NOT EXISTS \"uuid-ossp\"",
            "EXTENSION IF NOT EXISTS pg_stat_statements",
            "GRANT anon, authenticated, service_role TO authenticator",
        ] {
            assert!(SQL.contains(needle), "{needle}");
        }
        // One transaction, and psql stops at the first error.
        assert!(SQL.contains("\\set ON_ERROR_STOP on") && SQL.contains("BEGIN;") && SQL.contains("COMMIT;"));
    }

    #[test]
    fn the_job_runs_psql_with_the_password_from_the_secret() {
        let (cm, job) = db_init(&full()).expect("renders");
        assert_eq!(job.metadata.name.as_deref(), Some("demo-db-init"));
        assert_eq!(cm.metadata.name.as_deref(), Some("demo-db-init"));
        let pod = job.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod");
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some(DB_INIT_IMAGE));
        let cmd = c.command.clone().unwrap_or_default();
        assert_eq!(cmd.first().map(String::as_str), Some("psql"));
        assert!(cmd.iter().all(|a| !a.contains("PASSWORD")), "no password on the command line");
        let env = c.env.clone().unwrap_or_default();
        let get = |n: &str| env.iter().find(|v| v.name == n).cloned();
        let pw = get("PGPASSWORD").and_then(|v| v.value_from).and_then(|f| f.secret_key_ref).expect("secretKeyRef");
        assert_eq!((pw.name.as_str(), pw.key.as_str()), ("demo-db", "pw"));
        assert_eq!(get("PGUSER").and_then(|v| v.value).as_deref(), Some(DB_INIT_USER));
        assert_eq!(get("PGSSLMODE").and_then(|v| v.value).as_deref(), Some("require"));
        // The SQL ConfigMap is mounted where psql reads it.
        let file = cmd.iter().skip_while(|a| *a != "--file").nth(1).cloned().unwrap_or_default();
        let mount = c.volume_mounts.clone().unwrap_or_default();
        assert!(mount.iter().any(|m| file.starts_with(&m.mount_path)), "{file}");
        let vol = pod.volumes.clone().unwrap_or_default();
        assert_eq!(vol[0].config_map.as_ref().map(|c| c.name.as_str()), Some("demo-db-init"));
        // Not a Deployment: no config-hash annotation needed.
        let annotations = job.spec.and_then(|s| s.template.metadata).and_then(|m| m.annotations);
        assert!(annotations.is_none_or(|a| !a.contains_key(CONFIG_HASH_ANNOTATION)));
        assert!(db_init(&minimal()).is_ok());
    }
}

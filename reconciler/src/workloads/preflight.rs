//! The database preflight Job: `psql` runs read-only SQL (preflight.sql) with the
//! project's database settings and hands its one-line JSON answer, or psql's error, to
//! the reconciler as the container's termination message. The reconciler itself stays
//! free of a database driver; the Job writes nothing to the database.

use std::collections::BTreeMap;

use crds::names;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;

use super::dbinit::DB_INIT_USER;
use super::psql_job::{self, PsqlJob};
use super::{Ctx, config_map};
use crate::Error;

/// The SQL the Job runs.
pub(super) const SQL: &str = include_str!("preflight.sql");

/// The `app.kubernetes.io/component` of the Job, its ConfigMap and its pods.
pub const COMPONENT: &str = "db-preflight";

/// Pod-template label naming the Job, so the reconciler finds its pods (the Job
/// controller's own `job-name` label differs between Kubernetes versions).
pub const JOB_LABEL: &str = "supabase-operator.io/preflight-job";

/// The role a component logs in as when the user set the database up (no db-init):
/// postgres-meta's and Realtime's, which sees the whole catalog.
pub const CHECK_USER_WITHOUT_INIT: &str = "supabase_admin";

const SQL_DIR: &str = "/etc/supabase-db-preflight";
const SQL_KEY: &str = "preflight.sql";

/// psql's answer, or its error, goes to the termination log (Kubernetes keeps at most
/// 4096 bytes of it; the answer is under 1 KiB, the error is cut to 2000 bytes). Exit 1
/// on a failed connection, so the Job retries with its backoff while the database starts.
const SCRIPT: &str = r#"out=$(psql --no-psqlrc --quiet --tuples-only --no-align --file "$1" 2>&1) && rc=0 || rc=$?
printf '%s' "$out" | head -c 2000 > /dev/termination-log
exit $rc"#;

/// The preflight's ConfigMap and Job, named `job` (see `crate::preflight::job_name`).
pub(super) fn render(ctx: &Ctx<'_>, job: &str) -> Result<(ConfigMap, Job), Error> {
    let cm_name = format!("{}-{COMPONENT}", ctx.name);
    let cm = config_map(ctx, cm_name.clone(), COMPONENT, BTreeMap::from([(SQL_KEY.to_string(), SQL.to_string())]));
    // db-init's administrator while it is to run; else a role the components log in as.
    let user = if ctx.spec.database.initialize { DB_INIT_USER } else { CHECK_USER_WITHOUT_INIT };
    // Every transaction read-only: the preflight cannot write even by mistake.
    let mut env = psql_job::connection_env(ctx, user, "supabase-operator-db-preflight")?;
    env.lit("PGOPTIONS", "-c default_transaction_read_only=on");
    let file = format!("{SQL_DIR}/{SQL_KEY}");
    let mut labels = names::labels(&ctx.name, COMPONENT);
    labels.insert(JOB_LABEL.into(), job.into());
    let job = psql_job::job(
        ctx,
        PsqlJob {
            name: job.into(),
            component: COMPONENT,
            labels,
            config_map: cm_name,
            sql_dir: SQL_DIR,
            command: ["sh", "-c", SCRIPT, "preflight", &file].iter().map(|s| s.to_string()).collect(),
            env,
            // A database that is still starting: a few tries with the Job's backoff
            // (10 s, 20 s, 40 s) before the failure stands; each try's error is in status.
            backoff_limit: 3,
            termination_message_file: true,
        },
    );
    Ok((cm, job))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::full;
    use super::super::preflight;
    use super::*;

    #[test]
    fn the_sql_only_reads() {
        let code: Vec<String> = SQL
            .lines()
            .map(|l| l.split("--").next().unwrap_or_default().to_uppercase())
            // psql's own commands (`\set ON_ERROR_STOP`) send nothing to the server.
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('\\'))
            .collect();
        for line in &code {
            // String literals ('CREATE' as a privilege name) are data, not statements.
            let code: String = line.split('\'').step_by(2).collect::<Vec<_>>().join(" ");
            let words: Vec<&str> = code.split(|c: char| !c.is_alphanumeric() && c != '_').collect();
            for word in
                ["INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "GRANT", "TRUNCATE", "SET", "DO", "CALL"]
            {
                assert!(!words.contains(&word), "writes: {line}");
            }
        }
        assert!(code.iter().filter(|l| l.trim_start().starts_with("SELECT")).count() == 1, "one SELECT");
    }

    #[test]
    fn the_job_runs_read_only_and_reports_through_the_termination_log() {
        let (cm, job) = preflight(&full(), "demo-db-preflight-0123456789").expect("renders");
        assert_eq!(cm.data.as_ref().map(|d| d[SQL_KEY].as_str()), Some(SQL));
        let pod = job.spec.as_ref().and_then(|s| s.template.spec.clone()).expect("pod");
        let c = &pod.containers[0];
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        let env = c.env.clone().unwrap_or_default();
        let get = |n: &str| env.iter().find(|v| v.name == n).cloned();
        assert_eq!(get("PGOPTIONS").and_then(|v| v.value).as_deref(), Some("-c default_transaction_read_only=on"));
        let pw = get("PGPASSWORD").and_then(|v| v.value_from).and_then(|f| f.secret_key_ref).expect("secretKeyRef");
        assert_eq!((pw.name.as_str(), pw.key.as_str()), ("demo-db", "pw"));
        let cmd = c.command.clone().unwrap_or_default().join(" ");
        assert!(cmd.contains("/dev/termination-log") && !cmd.contains("PASSWORD"), "{cmd}");
        let labels = job.spec.and_then(|s| s.template.metadata).and_then(|m| m.labels).unwrap_or_default();
        assert_eq!(labels.get(JOB_LABEL).map(String::as_str), Some("demo-db-preflight-0123456789"));
    }
}

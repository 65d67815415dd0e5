//! The preflight's SQL against real PostgreSQL 15 servers, read by the reconciler's own
//! findings code: a plain server lacks what Supabase needs and the findings name it; a
//! server set up for Supabase (and initialized by db-init) clears them.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use harness::postgres::{Flavor, Postgres, SUPERUSER};
use reconciler::findings::{self, Init, OPTIONAL, REQUIRED};

const PASSWORD: &str = "p@ss:w/rd%20?#&";

/// Runs preflight.sql as the Job does (read-only transactions); returns its output.
fn preflight(pg: &Postgres, user: &str) -> String {
    let out = pg
        .psql_as(user, PASSWORD, "postgres")
        .env("PGOPTIONS", "-c default_transaction_read_only=on")
        .args(["--quiet", "--tuples-only", "--no-align", "--file"])
        .arg(harness::repo_path("reconciler/src/workloads/preflight.sql"))
        .output()
        .unwrap();
    assert!(out.status.success(), "preflight: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.len() < 4096, "larger than a termination message: {} bytes", text.len());
    text
}

fn db_init(pg: &Postgres) {
    let out = pg.run_file(SUPERUSER, PASSWORD, &harness::repo_path("reconciler/src/workloads/dbinit.sql"));
    assert!(out.status.success(), "db-init: {}", String::from_utf8_lossy(&out.stderr));
}

fn has(status: &crds::status::DatabaseStatus, check: &str, component: &str, severity: &str) -> bool {
    status.findings.iter().any(|f| f.check == check && f.component == component && f.severity == severity)
}

#[test]
fn a_plain_server_lacks_logical_decoding_and_pg_graphql_and_says_how_to_fix_it() {
    let pg = Postgres::start(Flavor::Plain, PASSWORD);
    let status = findings::evaluate(&preflight(&pg, SUPERUSER), Init::Pending);
    assert_eq!(status.reachable, Some(true));
    assert!(status.server_version.as_deref().is_some_and(|v| v.starts_with("15.")), "{status:?}");
    assert!(has(&status, "walLevel", "realtime", REQUIRED), "{status:#?}");
    let wal = status.findings.iter().find(|f| f.check == "walLevel").unwrap();
    assert!(wal.message.contains("wal_level is replica") && wal.message.contains("logical"), "{}", wal.message);
    assert!(has(&status, "extension:pg_graphql", "rest", OPTIONAL), "{status:#?}");
    // Before db-init: the roles it creates are not missing yet, the superuser can do it all.
    assert!(!status.findings.iter().any(|f| f.check.starts_with("role:") || f.check == "privileges"));
    // Without db-init, the roles are missing and hold their components back.
    let status = findings::evaluate(&preflight(&pg, SUPERUSER), Init::Off);
    assert!(has(&status, "role:authenticator", "rest", REQUIRED), "{status:#?}");
    assert!(has(&status, "extension:uuid-ossp", "storage", REQUIRED), "{status:#?}");
}

#[test]
fn a_server_set_up_for_supabase_clears_the_findings_after_db_init() {
    let pg = Postgres::start(Flavor::SupabaseReady, PASSWORD);
    db_init(&pg);
    let status = findings::evaluate(&preflight(&pg, SUPERUSER), Init::Done);
    let required: Vec<_> = status.findings.iter().filter(|f| f.severity == REQUIRED).collect();
    assert!(required.is_empty(), "{required:#?}");
    // pg_cron is preloaded and available; Debian packages neither pg_graphql nor pg_net.
    assert!(!status.findings.iter().any(|f| f.check == "walLevel" || f.check == "extension:pg_cron"));
    assert!(has(&status, "extension:pg_graphql", "rest", OPTIONAL));
    // The role the components log in as reads the same (the Job's user without db-init).
    let as_admin = findings::evaluate(&preflight(&pg, "supabase_admin"), Init::Off);
    assert!(!as_admin.findings.iter().any(|f| f.severity == REQUIRED), "{:#?}", as_admin.findings);
}

#[test]
fn a_manager_without_superuser_is_told_what_db_init_cannot_do() {
    let pg = Postgres::start(Flavor::SupabaseReady, PASSWORD);
    pg.sql(&format!("CREATE ROLE manager LOGIN PASSWORD '{}'", PASSWORD.replace('\'', "''")));
    let status = findings::evaluate(&preflight(&pg, "manager"), Init::Pending);
    let p = status.findings.iter().find(|f| f.check == "privileges").expect("a privileges finding");
    assert_eq!(p.severity, OPTIONAL);
    assert!(p.message.contains("manager is not a superuser") && p.message.contains("CREATEROLE"), "{}", p.message);
}

#[test]
fn an_unreachable_server_is_a_finding_with_psqls_error() {
    let pg = Postgres::start(Flavor::Plain, PASSWORD);
    let out = pg.psql_as(SUPERUSER, "wrong", "postgres").args(["-c", "SELECT 1"]).output().unwrap();
    assert!(!out.status.success());
    let status = findings::evaluate(&String::from_utf8_lossy(&out.stderr), Init::Off);
    assert_eq!(status.reachable, Some(false));
    assert!(status.findings[0].message.contains("password authentication failed"), "{:?}", status.findings);
    assert!(!status.findings[0].message.contains("wrong"), "no password in the message");
}

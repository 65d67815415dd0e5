//! db-init's SQL against a real PostgreSQL 15: idempotent (a second run changes nothing
//! in the catalog), without superuser it creates what it can and says what it could not,
//! and every role a component logs in as can then log in with a password full of URL
//! special characters.
// A panic is how a test reports failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use harness::postgres::{Flavor, Postgres};

/// URL-special characters, and `%20`, which a URL decoder would turn into a space.
const PASSWORD: &str = "p@ss:w/rd%20?#&";

/// The roles the components log in as (reconciler/src/workloads/*.rs `DB_ROLE`).
const LOGIN_ROLES: [&str; 4] = ["authenticator", "supabase_auth_admin", "supabase_storage_admin", "supabase_admin"];

fn sql_file() -> std::path::PathBuf {
    harness::repo_path("reconciler/src/workloads/dbinit.sql")
}

/// What db-init may change, as text: roles and their attributes, memberships, role
/// settings, schemas with owners and ACLs, extensions, default ACLs, publications.
/// Password hashes are left out: every run sets the project password again (a fresh salt).
const SNAPSHOT: &str = "
SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
  SELECT format('role %s super=%s inherit=%s createrole=%s createdb=%s login=%s repl=%s bypassrls=%s',
    rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls) AS line
    FROM pg_roles WHERE rolname !~ '^pg_'
  UNION ALL SELECT format('member %s of %s admin=%s', m.rolname, r.rolname, a.admin_option)
    FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
  UNION ALL SELECT format('setting %s %s', r.rolname, s.setconfig)
    FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
  UNION ALL SELECT format('schema %s owner=%s acl=%s', nspname, pg_get_userbyid(nspowner), nspacl)
    FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
  UNION ALL SELECT format('extension %s in %s', extname, extnamespace::regnamespace) FROM pg_extension
  UNION ALL SELECT format('default acl %s %s %s %s', pg_get_userbyid(defaclrole), defaclnamespace::regnamespace,
    defaclobjtype, defaclacl) FROM pg_default_acl
  UNION ALL SELECT format('publication %s', pubname) FROM pg_publication
) t";

fn snapshot(pg: &Postgres, database: &str) -> String {
    let out = pg.psql_as(harness::postgres::SUPERUSER, &pg.password, database).args(["-c", SNAPSHOT]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs db-init as `user` into `database`; returns psql's stderr (the NOTICEs).
fn db_init(pg: &Postgres, user: &str, database: &str) -> String {
    let out = pg.psql_as(user, PASSWORD, database).arg("--file").arg(sql_file()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "db-init as {user} failed:\n{stderr}");
    stderr
}

fn assert_logins(pg: &Postgres, database: &str) {
    for role in LOGIN_ROLES {
        let out = pg.psql_as(role, PASSWORD, database).args(["-c", "SELECT current_user"]).output().unwrap();
        assert!(out.status.success(), "{role} cannot log in: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), role);
        let wrong = pg.psql_as(role, "p@ss:w/rd 20?#&", database).args(["-c", "SELECT 1"]).output().unwrap();
        assert!(!wrong.status.success(), "{role} logged in with the decoded password");
    }
}

#[test]
fn db_init_twice_as_superuser_changes_nothing_the_second_time_and_every_role_logs_in() {
    let pg = Postgres::start(Flavor::Plain, PASSWORD);
    let before = snapshot(&pg, "postgres");
    db_init(&pg, "postgres", "postgres");
    let first = snapshot(&pg, "postgres");
    assert_ne!(before, first, "the first run created nothing");
    for needle in [
        "role supabase_admin super=t ",
        "role service_role super=f inherit=f createrole=f createdb=f login=f repl=f bypassrls=t",
        "member authenticator of anon",
        "schema auth owner=supabase_auth_admin",
        "schema storage owner=supabase_storage_admin",
        "extension pgcrypto in extensions",
        "extension uuid-ossp in extensions",
        "publication supabase_realtime",
    ] {
        assert!(first.contains(needle), "{needle} missing from:\n{first}");
    }
    db_init(&pg, "postgres", "postgres");
    let second = snapshot(&pg, "postgres");
    assert_eq!(first, second, "the second run changed the catalog");
    assert_logins(&pg, "postgres");
}

#[test]
fn db_init_without_superuser_creates_what_it_can_says_what_it_could_not_and_stays_idempotent() {
    let pg = Postgres::start(Flavor::Plain, PASSWORD);
    // A managed server's administrator: CREATEROLE and CREATEDB, CREATE on its database,
    // no SUPERUSER (RDS's master user, Cloud SQL's `postgres`).
    let quoted = PASSWORD.replace('\'', "''");
    pg.sql("CREATE DATABASE app");
    pg.sql(&format!("CREATE ROLE manager LOGIN CREATEROLE CREATEDB PASSWORD '{quoted}'"));
    pg.sql("GRANT CREATE ON DATABASE app TO manager");

    let notices = db_init(&pg, "manager", "app");
    for needle in ["service_role is created without BYPASSRLS", "SUPERUSER REPLICATION BYPASSRLS", "pg_stat_statements"]
    {
        assert!(notices.contains(needle), "no NOTICE about {needle}:\n{notices}");
    }
    let first = snapshot(&pg, "app");
    for needle in [
        "role supabase_admin super=f ",
        "schema auth owner=supabase_auth_admin",
        "schema realtime owner=supabase_admin",
        "extension pgcrypto in extensions",
        "publication supabase_realtime",
    ] {
        assert!(first.contains(needle), "{needle} missing from:\n{first}");
    }
    assert!(!first.contains("extension pg_stat_statements"), "an untrusted extension without superuser");
    db_init(&pg, "manager", "app");
    assert_eq!(first, snapshot(&pg, "app"), "the second run changed the catalog");
    assert_logins(&pg, "app");
}

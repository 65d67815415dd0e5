//! A real PostgreSQL 15 server per test: `initdb` into a temporary folder, started on a
//! free loopback port, stopped (fast shutdown) and removed on drop. Installed by
//! `tests/scripts/install-postgres.sh`, which `make test` runs first.
//!
//! PostgreSQL refuses to run as root; as root, the server runs as the `postgres` user
//! (created by Debian's package) in a folder that user owns.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::patience;
use crate::process::{Proc, free_addr};

/// Where Debian's `postgresql-15` puts the server binaries.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";

/// How the server is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// As `initdb` leaves it: `wal_level = replica`, no preloaded libraries.
    Plain,
    /// What Supabase needs of the server itself: logical decoding for Realtime and
    /// pg_cron preloaded (the extensions Debian packages; pg_graphql, pg_net and pgsodium
    /// are not packaged).
    SupabaseReady,
}

/// A running server.
#[derive(Debug)]
pub struct Postgres {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// The superuser's password (scram-sha-256 over TCP).
    pub password: String,
    proc: Option<Proc>,
    dir: tempfile::TempDir,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The uid and gid of the `postgres` user.
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("run id");
        assert!(out.status.success(), "no `postgres` user: run tests/scripts/install-postgres.sh");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

/// `program` from [`BIN`], as the `postgres` user when we are root.
fn server_command(program: &str) -> Command {
    let path = Path::new(BIN).join(program);
    assert!(path.is_file(), "{} is missing: run tests/scripts/install-postgres.sh (make postgres)", path.display());
    let mut cmd = Command::new(path);
    if is_root() {
        let (uid, gid) = postgres_ids();
        cmd.uid(uid).gid(gid);
    }
    cmd.env_remove("PGPASSWORD").env("LC_ALL", "C");
    cmd
}

fn chown_to_postgres(path: &Path) {
    if is_root() {
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(path).status().expect("run chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

impl Postgres {
    /// Creates and starts a server whose superuser `postgres` has `password`.
    pub fn start(flavor: Flavor, password: &str) -> Postgres {
        let dir = tempfile::Builder::new().prefix("supabase-pg-").tempdir().expect("a temporary folder");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("write the password file");
        chown_to_postgres(dir.path());
        let data = dir.path().join("data");
        let out = server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--encoding=UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let _ = std::fs::remove_file(&pwfile);

        let port = free_addr().port();
        let mut pg = Postgres { port, password: password.into(), proc: None, dir };
        pg.spawn(flavor);
        pg
    }

    /// Stops the server and starts it again as `flavor` (same data, same port): what an
    /// administrator does after changing a setting that needs a restart (`wal_level`).
    pub fn restart(&mut self, flavor: Flavor) {
        self.stop();
        self.spawn(flavor);
    }

    fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            // SIGINT is PostgreSQL's fast shutdown: it ends the sessions and stops cleanly.
            // SIGKILL to the postmaster would leave its backends behind.
            let _ = Command::new("kill").args(["-INT", &proc.id().to_string()]).status();
            let _ = proc.wait();
        }
    }

    fn spawn(&mut self, flavor: Flavor) {
        let (dir, port) = (self.dir.path(), self.port);
        let data = dir.join("data");
        let mut cmd = server_command("postgres");
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=40"]);
        if flavor == Flavor::SupabaseReady {
            cmd.args([
                "-c",
                "wal_level=logical",
                "-c",
                "max_replication_slots=10",
                "-c",
                "shared_preload_libraries=pg_cron",
                "-c",
                "cron.database_name=postgres",
            ]);
        }
        let log = dir.join("server.log");
        // Created by us; the server (as postgres) must be able to append.
        if !log.exists() {
            std::fs::write(&log, "").expect("create the log");
            chown_to_postgres(&log);
        }
        self.proc = Some(Proc::spawn(cmd, &log));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + patience::settle();
        loop {
            let ok = Command::new(Path::new(BIN).join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start; log:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The folder holding the data directory and the log.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `psql` connecting over TCP as `user` with `password` to `database`, with the standard
    /// `PG*` variables (the way the Jobs connect); nothing read from `~/.psqlrc`.
    pub fn psql_as(&self, user: &str, password: &str, database: &str) -> Command {
        let mut cmd = Command::new(Path::new(BIN).join("psql"));
        cmd.args(["--no-psqlrc", "-X", "-v", "ON_ERROR_STOP=1", "-At"])
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", user)
            .env("PGPASSWORD", password)
            .env("PGDATABASE", database)
            .env("PGSSLMODE", "disable")
            .env("PGCONNECT_TIMEOUT", "10");
        cmd
    }

    /// Runs `sql` as the superuser in `postgres`; panics with psql's error on failure.
    pub fn sql(&self, sql: &str) -> String {
        let out = self.psql_as(SUPERUSER, &self.password, "postgres").args(["-c", sql]).output().expect("run psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a SQL file with psql as `user` (stdout and stderr returned, not checked).
    pub fn run_file(&self, user: &str, password: &str, file: &Path) -> Output {
        self.psql_as(user, password, "postgres").arg("--file").arg(file).output().expect("run psql")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

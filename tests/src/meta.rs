//! The real postgres-meta, from the npm package pinned in tests/meta/package-lock.json
//! (installed by tests/scripts/install-postgres.sh), started with an env resolved from a
//! Deployment (see `pod_env`), on a free loopback port.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::patience;
use crate::process::{Proc, free_addr};

/// The server's entry point in the installed package.
pub fn server_js() -> PathBuf {
    crate::repo_path("tests/meta/node_modules/@supabase/postgres-meta/dist/server/server.js")
}

/// A free port whose next port is free too: postgres-meta also serves its admin app (metrics)
/// on PG_META_PORT + 1 and exits when that is taken (dist/server/server.js, `adminPort`).
fn free_pair() -> u16 {
    loop {
        let port = free_addr().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// A running postgres-meta.
#[derive(Debug)]
pub struct Meta {
    /// Its port on 127.0.0.1.
    pub port: u16,
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl Meta {
    /// Starts `node server.js` with exactly `env` (plus PATH), listening on a free port
    /// of 127.0.0.1 instead of the Deployment's (PG_META_HOST and PG_META_PORT replaced).
    pub async fn start(env: Vec<(String, String)>) -> Meta {
        let js = server_js();
        assert!(js.is_file(), "{} is missing: run tests/scripts/install-postgres.sh (make postgres)", js.display());
        let port = free_pair();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut cmd = Command::new("node");
        cmd.arg(&js)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.into_iter().filter(|(k, _)| k != "PG_META_HOST" && k != "PG_META_PORT"))
            .env("PG_META_HOST", "127.0.0.1")
            .env("PG_META_PORT", port.to_string());
        let proc = Proc::spawn(cmd, &dir.path().join("meta.log"));
        let meta = Meta { port, proc, _dir: dir };
        meta.wait_healthy().await;
        meta
    }

    async fn wait_healthy(&self) {
        // Node loads the package (a few hundred modules) before it listens.
        let deadline = Instant::now() + patience::settle();
        loop {
            if let Ok((200, _)) = self.get("/health").await {
                return;
            }
            assert!(Instant::now() < deadline, "postgres-meta did not answer /health; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.proc.log).unwrap_or_default()
    }

    /// `GET path` over HTTP/1.0: the status code and the body.
    pub async fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.get_with(path, &[]).await
    }

    /// [`Meta::get`] with extra request headers (`x-connection-encrypted`, as Studio sends).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}\r\n").as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((code, body))
    }
}

#[cfg(test)]
mod tests {
    /// The package the tests run is the image the catalog deploys: a catalog bump without
    /// a matching `npm install --save-exact` in tests/meta would test another version.
    #[test]
    fn the_locked_npm_package_is_the_catalogs_postgres_meta() {
        let lock = std::fs::read_to_string(crate::repo_path("tests/meta/package-lock.json")).unwrap();
        let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
        let locked = lock["packages"]["node_modules/@supabase/postgres-meta"]["version"].as_str().unwrap();
        let image = crds::Component::Meta.entry().image();
        let tag = image.rsplit_once(':').map(|(_, t)| t.trim_start_matches('v')).unwrap();
        assert_eq!(locked, tag, "tests/meta locks postgres-meta {locked}; the catalog deploys {image}");
    }
}

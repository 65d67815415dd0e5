//! Driving `kubectl` as a user would.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

/// What a `kubectl` run printed.
#[derive(Debug)]
pub struct Output {
    /// Whether it exited 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A `kubectl` invocation being built.
#[derive(Debug)]
pub struct Kubectl {
    kubeconfig: PathBuf,
    namespace: String,
    args: Vec<String>,
    stdin: Option<String>,
}

impl Kubectl {
    /// `kubectl --kubeconfig <kubeconfig> -n <namespace>`.
    pub fn new(kubeconfig: &Path, namespace: &str) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            namespace: namespace.to_string(),
            args: Vec::new(),
            stdin: None,
        }
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Kubectl {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Feeds `input` on standard input (for `apply -f -`).
    pub fn stdin(mut self, input: impl Into<String>) -> Kubectl {
        self.stdin = Some(input.into());
        self
    }

    /// Runs it and collects the output.
    pub async fn run(self) -> Output {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&self.kubeconfig).arg("-n").arg(&self.namespace).args(&self.args);
        cmd.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Output { success: false, stdout: String::new(), stderr: format!("cannot run kubectl: {e}") };
            }
        };
        if let (Some(input), Some(mut pipe)) = (self.stdin, child.stdin.take()) {
            let _ = pipe.write_all(input.as_bytes()).await;
        }
        match child.wait_with_output().await {
            Ok(out) => Output {
                success: out.status.success(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
            Err(e) => Output { success: false, stdout: String::new(), stderr: format!("kubectl failed: {e}") },
        }
    }

    /// Runs it and panics with both streams unless it succeeded.
    pub async fn ok(self) -> String {
        let description = self.args.join(" ");
        let out = self.run().await;
        assert!(out.success, "kubectl {description} failed:\n{}\n{}", out.stdout, out.stderr);
        out.stdout
    }
}

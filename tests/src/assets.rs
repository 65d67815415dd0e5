//! Where the control-plane binaries come from: `KUBEBUILDER_ASSETS` (the envtest
//! convention) when it holds them, else the project's own build cached under
//! `~/.cache/supabase-operator/bin`, installed on first use by
//! `tests/scripts/install-control-plane.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

fn has(dir: &Path, names: &[&str]) -> bool {
    names.iter().all(|n| dir.join(n).is_file())
}

fn cache() -> PathBuf {
    match std::env::var_os("SUPABASE_OPERATOR_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/supabase-operator"),
    }
    .join("bin")
}

/// The folder holding `etcd` and `kube-apiserver`, installing them when missing.
pub fn binaries() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS").map(PathBuf::from)
        && has(&dir, &["etcd", "kube-apiserver"])
    {
        return Ok(dir);
    }
    let dir = cache();
    if has(&dir, &["etcd", "kube-apiserver", "kube-controller-manager"]) {
        return Ok(dir);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-control-plane.sh");
    let status =
        Command::new("bash").arg(&script).status().map_err(|e| Error::Io(format!("run {}", script.display()), e))?;
    if !status.success() || !has(&dir, &["etcd", "kube-apiserver"]) {
        return Err(Error::Install(script));
    }
    Ok(dir)
}

/// The controller manager beside the other binaries, or in the project's cache.
pub fn controller_manager(bin: &Path) -> Option<PathBuf> {
    [bin.to_path_buf(), cache()].into_iter().map(|d| d.join("kube-controller-manager")).find(|p| p.is_file())
}

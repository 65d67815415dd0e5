//! `make demo` runs unattended on this machine and shows its three outcomes: the
//! minimal sample stored with defaults, an invalid project refused with the
//! webhook's message, and the rollout reaching Running.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

#[test]
fn demo_shows_defaults_a_refusal_and_a_rollout_to_running() {
    let dir = tempfile::Builder::new().prefix("demo-test-").tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    // The demo builds the binaries with cargo, as from a user's shell.
    let out = harness::process::without_cargo_env(&mut Command::new("bash"))
        .arg(harness::repo_path("tests/scripts/demo.sh"))
        .env("DEMO_DIR", &demo_dir)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let logs = ["webhook.log", "reconciler.log"]
        .iter()
        .map(|f| std::fs::read_to_string(demo_dir.join(f)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let down = Command::new("bash").arg(harness::repo_path("tests/scripts/demo-down.sh")).arg(&demo_dir).status();
    assert!(out.status.success(), "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nlogs:\n{logs}");
    assert!(down.is_ok_and(|s| s.success()) && !demo_dir.exists(), "demo-down left {}", demo_dir.display());

    // 1. Defaults: the stored spec carries what the user did not write.
    // The demo's sections, by their headings.
    let section = |from: &str, to: &str| {
        let start = stdout.find(from).unwrap_or_else(|| panic!("no {from:?} in:\n{stdout}"));
        let end = stdout[start..].find(to).map(|i| start + i).unwrap_or_else(|| panic!("no {to:?} in:\n{stdout}"));
        stdout[start..end].to_string()
    };
    let defaulted = section("==> 1.", "==> 2.");
    for default in ["kong/kong:", "supabase/gotrue:", "sslMode: prefer", "siteUrl: https://api.demo.example.com"] {
        assert!(defaulted.contains(default), "defaulted spec lacks {default}:\n{defaulted}");
    }
    // 2. The refusal names each broken field.
    let refused = section("==> 2.", "==> 3.");
    assert!(refused.contains("SupabaseProject \"broken\" is invalid"), "{refused}");
    for field in ["spec.apiExternalUrl", "spec.components.kong.replicas", "no-such-secret"] {
        assert!(refused.contains(field), "refusal does not name {field}:\n{refused}");
    }
    // 3. The rollout went in catalog order and ended Running.
    let rollout = section("==> 3.", "==> Everything is still running");
    assert!(rollout.contains("phase=Running"), "{rollout}");
    let marked: Vec<&str> = rollout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("marking demo-"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(marked, ["kong", "auth", "rest", "realtime", "storage", "meta"], "{rollout}");
    // The user is told how to keep exploring.
    assert!(stdout.contains(&format!("export KUBECONFIG={}", demo_dir.join("cluster/ready-kubeconfig").display())));
}

//! Stands in for the kubelet and the Job controller for the database preflight Job
//! (`<project>-db-preflight-<hash>`), and with a real database for db-init's Job too:
//! nothing runs Jobs in the test cluster. For each
//! new preflight Job it writes a terminated Pod whose container's termination message
//! is the Job's answer, and marks the Job complete or failed, as a kubelet and the Job
//! controller would report it.
//!
//! With [`Database::Real`], the answer is real: the Job's container command runs here,
//! with its env resolved as the kubelet would (`pod_env`), its ConfigMap volume and its
//! termination-message file laid out in a temporary folder, against the test's
//! PostgreSQL. With [`Database::Complete`] (tests about something else), the answer is
//! a fixed one of a database that has everything.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodSpec, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::pod_env::{self, PodFields};

/// Where the preflight's answer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    /// A database with every prerequisite: a fixed answer, nothing runs.
    Complete,
    /// Run the Job's command here against whatever its env points at.
    Real,
}

/// preflight.sql's answer for a PostgreSQL 15 with every extension, role and setting
/// Supabase needs.
pub const COMPLETE: &str = r#"{"version":"15.8","versionNum":150008,"walLevel":"logical","slotsMax":10,"slotsUsed":0,
"user":"postgres","superuser":true,"createRole":true,"createInDatabase":true,
"extensions":{"pg_graphql":"installed","pgcrypto":"installed","uuid-ossp":"installed","pg_net":"installed",
"pgsodium":"installed","supabase_vault":"installed","pg_cron":"installed"},
"roles":{"anon":{"login":false,"memberOf":[]},"authenticated":{"login":false,"memberOf":[]},
"service_role":{"login":false,"memberOf":[]},
"authenticator":{"login":true,"memberOf":["anon","authenticated","service_role"]},
"supabase_auth_admin":{"login":true,"memberOf":[]},
"supabase_storage_admin":{"login":true,"memberOf":["anon","authenticated","service_role"]},
"supabase_admin":{"login":true,"memberOf":[]}}}"#;

const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// Answers every preflight Job in `namespace` until `stop`.
pub async fn answer(client: Client, namespace: String, database: Database, stop: CancellationToken) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    // With a real database, db-init's Job runs too (its SQL, as rendered, for real).
    let selector = match database {
        Database::Complete => format!("{COMPONENT_LABEL}=db-preflight"),
        Database::Real => format!("{COMPONENT_LABEL} in (db-preflight,db-init)"),
    };
    let config = watcher::Config::default().labels(&selector);
    let seen = Arc::new(Mutex::new(HashSet::new()));
    watcher(jobs, config)
        .default_backoff()
        .applied_objects()
        .take_until(stop.cancelled_owned())
        .for_each_concurrent(4, |job| {
            let (client, namespace, seen) = (client.clone(), namespace.clone(), seen.clone());
            async move {
                let Ok(job) = job else { return };
                let ended = job.status.as_ref().is_some_and(|s| s.succeeded.is_some() || s.failed.is_some());
                if ended || !seen.lock().unwrap().insert(job.name_any()) {
                    return;
                }
                // The apiserver may be away for a moment (the restart drill): try again,
                // as a kubelet would keep reporting, until the answer is written.
                let deadline = std::time::Instant::now() + crate::patience::settle();
                while let Err(e) = run(&client, &namespace, &job, database).await {
                    if std::time::Instant::now() > deadline {
                        eprintln!("preflight stand-in: {}: {e}", job.name_any());
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
            }
        })
        .await;
}

async fn run(client: &Client, namespace: &str, job: &Job, database: Database) -> Result<(), String> {
    let name = job.name_any();
    let template = job.spec.as_ref().map(|s| s.template.clone()).ok_or("a Job without a spec")?;
    let spec = template.spec.clone().ok_or("a Job without a pod spec")?;
    let container = spec.containers.first().cloned().ok_or("a Job without a container")?;
    let pod_name = format!("{name}-standin");
    let (code, message) = match database {
        Database::Complete => (0, COMPLETE.to_string()),
        Database::Real => {
            let fields = PodFields { name: pod_name.clone(), namespace: namespace.into(), ip: "127.0.0.1".into() };
            let env = pod_env::resolve(client, namespace, &container, &fields).await;
            execute(client, namespace, &spec, &container, env).await?
        }
    };
    // Pods need their service account; the controller that creates `default` is off here.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let sa = ServiceAccount {
        metadata: ObjectMeta { name: Some("default".into()), ..Default::default() },
        ..Default::default()
    };
    let _ = accounts.create(&PostParams::default(), &sa).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            labels: template.metadata.and_then(|m| m.labels),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    };
    match pods.create(&PostParams::default(), &pod).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(format!("create pod: {e}")),
    }
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let status = json!({"status": {"phase": phase, "containerStatuses": [{
        "name": container.name, "image": container.image, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
            "message": message, "startedAt": now, "finishedAt": now}}}]}});
    pods.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&status)).await.map_err(|e| e.to_string())?;
    let job_status = if code == 0 {
        json!({"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}})
    } else {
        json!({"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    jobs.patch_status(&name, &PatchParams::default(), &Patch::Merge(&job_status)).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs the container's command here: ConfigMap volumes and the termination-message
/// file are folders and a file of a temporary directory, substituted for their mount
/// paths in the command (the kubelet bind-mounts them there). Returns the exit code and
/// the termination message.
async fn execute(
    client: &Client,
    namespace: &str,
    spec: &PodSpec,
    container: &k8s_openapi::api::core::v1::Container,
    env: Vec<(String, String)>,
) -> Result<(i32, String), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut mounts: BTreeMap<String, String> = BTreeMap::new();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for m in container.volume_mounts.clone().unwrap_or_default() {
        let volume = spec.volumes.iter().flatten().find(|v| v.name == m.name).ok_or("a mount without a volume")?;
        let cm_name =
            volume.config_map.as_ref().map(|c| c.name.clone()).ok_or("only ConfigMap volumes are laid out")?;
        let cm = maps.get(&cm_name).await.map_err(|e| e.to_string())?;
        let local = dir.path().join(&m.name);
        std::fs::create_dir_all(&local).map_err(|e| e.to_string())?;
        for (k, v) in cm.data.unwrap_or_default() {
            std::fs::write(local.join(k), v).map_err(|e| e.to_string())?;
        }
        mounts.insert(m.mount_path.clone(), local.display().to_string());
    }
    let log_path = container.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
    let log = dir.path().join("termination-log");
    mounts.insert(log_path, log.display().to_string());
    let args: Vec<String> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(|a| mounts.iter().fold(a.clone(), |a, (from, to)| a.replace(from.as_str(), to)))
        .collect();
    let (program, rest) = args.split_first().ok_or("a container without a command")?;
    let out = tokio::process::Command::new(program)
        .args(rest)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .await
        .map_err(|e| format!("run {program}: {e}"))?;
    let message = std::fs::read_to_string(&log).unwrap_or_default();
    Ok((out.status.code().unwrap_or(1), message))
}

/// Pods of the preflight Jobs in `api`'s namespace (to check what the reconciler read).
pub async fn pods(api: &Api<Pod>) -> Vec<Pod> {
    api.list(&ListParams::default().labels(&format!("{COMPONENT_LABEL}=db-preflight"))).await.unwrap().items
}

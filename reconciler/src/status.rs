//! Status computed from what the cluster shows. Pure: the controller compares the
//! result with the stored status and writes only a difference, so a reconcile never
//! triggers itself.

use std::collections::BTreeMap;

use crds::conditions::{
    self, AVAILABLE, DATABASE_INITIALIZED, DATABASE_READY, DEGRADED, PROGRESSING, READY, SECRETS_READY,
};
use crds::status::ComponentStatus;
use crds::{CATALOG, Component, Phase, SupabaseProjectStatus, release};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::EventType;

use crate::deployment_view::DeploymentView;
use crate::observation::{DbInit, Observation, Observed};
use crate::readiness;

/// Component phases written in `status.components.<name>.phase`.
pub mod component_phase {
    /// Not applied yet.
    pub const PENDING: &str = "Pending";
    /// Applied, rolling out.
    pub const PROGRESSING: &str = "Progressing";
    /// Rolled out and available.
    pub const READY: &str = "Ready";
    /// Was ready, is not, and no rollout explains it.
    pub const DEGRADED: &str = "Degraded";
    /// Not applied: the database lacks a hard prerequisite (see `status.database`).
    pub const HELD_BACK: &str = "HeldBack";
}

fn previously_up(prev: &SupabaseProjectStatus, c: Component) -> bool {
    prev.components
        .get(c.name())
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == component_phase::READY || p == component_phase::DEGRADED)
}

/// A Deployment whose controller reports a rollout under way (real clusters only;
/// the test harness writes no Progressing condition).
fn rolling(d: &DeploymentView) -> bool {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.status == "True" && c.reason.as_deref() != Some("NewReplicaSetAvailable")
    })
}

/// A Deployment whose controller gave up waiting for its new pods:
/// `Progressing=False` with reason `ProgressDeadlineExceeded`, after the Deployment's
/// `progressDeadlineSeconds` (600 unless set). Such a rollout stops an upgrade there.
fn stalled(d: &DeploymentView) -> bool {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    })
}

/// The release whose image `image` is for `component`: `spec.release` first (two
/// releases may pin the same image), else the newest that pins it.
fn release_of(component: Component, image: Option<&str>, target: Option<&str>) -> Option<String> {
    let image = image?;
    let target = target.and_then(release::find).filter(|r| r.image(component) == image);
    let r = target.or_else(|| release::RELEASES.iter().rev().find(|r| r.image(component) == image))?;
    Some(r.name.to_string())
}

fn component_status(prev: &SupabaseProjectStatus, o: &Observed, target: Option<&str>) -> ComponentStatus {
    let Some(d) = &o.deployment else {
        return ComponentStatus { phase: Some(component_phase::PENDING.into()), ..Default::default() };
    };
    let r = readiness::rollout(d);
    let phase = if r.ready {
        component_phase::READY
    } else if stalled(d) || previously_up(prev, o.component) && r.observed && r.updated && !rolling(d) {
        component_phase::DEGRADED
    } else {
        component_phase::PROGRESSING
    };
    ComponentStatus {
        phase: Some(phase.into()),
        ready: r.ready,
        image: d.image.clone(),
        release: release_of(o.component, d.image.as_deref(), target),
        replicas: Some(r.desired),
        ready_replicas: Some(r.ready_replicas),
    }
}

fn progress(c: Component, s: &ComponentStatus) -> String {
    format!("{}: {}/{} ready", c.name(), s.ready_replicas.unwrap_or(0), s.replicas.unwrap_or(1))
}

/// What the rollout waits for: pods of the new template while one rolls out (old
/// pods may still be ready), ready pods otherwise.
fn waiting(c: Component, d: Option<&DeploymentView>, s: &ComponentStatus) -> String {
    match d.map(readiness::rollout) {
        Some(r) if r.ready_replicas > 0 && (!r.observed || !r.updated) => {
            format!("{}: 0/{} updated", c.name(), r.desired)
        }
        _ => progress(c, s),
    }
}

/// The release every enabled component runs: one release's image each. While an
/// upgrade or rollback rolls (each runs either the release before or the spec's), the
/// release before; `custom` for any other mix. Unchanged until every component has a
/// Deployment, so a first rollout shows no release before it has one.
fn running_release(
    prev: &SupabaseProjectStatus,
    obs: &Observation,
    components: &BTreeMap<String, ComponentStatus>,
) -> Option<String> {
    if obs.components.is_empty() || obs.components.iter().any(|o| o.deployment.is_none()) {
        return prev.release.clone();
    }
    let images: Vec<(Component, Option<&str>)> =
        obs.components.iter().map(|o| (o.component, o.deployment.as_ref().and_then(|d| d.image.as_deref()))).collect();
    let all_on = |r: &release::Release| images.iter().all(|(c, image)| *image == Some(r.image(*c)));
    let target = obs.release.as_deref().and_then(release::find);
    if let Some(r) = target.filter(|r| all_on(r)).or_else(|| release::RELEASES.iter().rev().find(|r| all_on(r))) {
        // Applied is not arrived: until the last component of an upgrade is ready,
        // the project is still on the release before.
        let before = prev.release.as_deref().filter(|p| *p != r.name && release::find(p).is_some());
        if let Some(before) = before
            && !components.values().all(|s| s.ready)
        {
            return Some(before.to_string());
        }
        return Some(r.name.to_string());
    }
    let before = prev.release.as_deref().and_then(release::find);
    let rolling_between = |from: &release::Release, to: &release::Release| {
        images.iter().all(|(c, image)| *image == Some(from.image(*c)) || *image == Some(to.image(*c)))
    };
    match (before, target) {
        (Some(from), Some(to)) if rolling_between(from, to) => Some(from.name.to_string()),
        _ => Some(CUSTOM.to_string()),
    }
}

/// `status.release` of a project whose images are no known release's set.
pub const CUSTOM: &str = "custom";

/// The new status, from the previous one and what this reconcile saw.
pub fn compute(prev: &SupabaseProjectStatus, obs: &Observation, now: &Time) -> SupabaseProjectStatus {
    let mut next = prev.clone();
    let g = obs.generation;
    next.observed_generation = g;

    let mut components = BTreeMap::new();
    for o in &obs.components {
        let mut s = component_status(prev, o, obs.release.as_deref());
        if o.deployment.is_none() && obs.held.contains(&o.component) {
            s.phase = Some(component_phase::HELD_BACK.into());
        }
        components.insert(o.component.name().to_string(), s);
    }
    let running = running_release(prev, obs, &components);
    // An upgrade (or rollback) is under way while the components do not all run the
    // release the spec names; the message says how far it got.
    let from_release = running.as_deref().is_some_and(|r| release::find(r).is_some());
    let upgrade = obs.release.as_deref().filter(|to| from_release && running.as_deref() != Some(*to)).map(|to| {
        let on = components.values().filter(|s| s.release.as_deref() == Some(to) && s.ready).count();
        format!("upgrading to {to} ({on}/{} components on it): ", obs.components.len())
    });
    let total = obs.components.len();
    let ready = components.values().filter(|s| s.ready).count();
    let first_not_ready = obs
        .components
        .iter()
        .find(|o| !obs.held.contains(&o.component) && !components.get(o.component.name()).is_some_and(|s| s.ready));
    let first_held = obs
        .components
        .iter()
        .find(|o| obs.held.contains(&o.component) && !components.get(o.component.name()).is_some_and(|s| s.ready));
    let checking = obs.database.as_ref().is_some_and(|d| d.reachable.is_none());
    let degraded = obs.components.iter().find(|o| {
        components.get(o.component.name()).and_then(|s| s.phase.as_deref()) == Some(component_phase::DEGRADED)
    });
    let was_up = matches!(prev.phase, Some(Phase::Running | Phase::Updating | Phase::Degraded));

    let (phase, message) = if !obs.problems.is_empty() {
        (Phase::Failed, obs.problems.join("; "))
    } else if !obs.secrets_ready {
        (Phase::DeployingSecrets, "creating the generated Secrets".to_string())
    } else if let Some(DbInit::Failed(why)) = &obs.db {
        (Phase::Failed, why.clone())
    } else if let Some(DbInit::Running(job)) = &obs.db {
        (Phase::InitializingDatabase, format!("waiting for database initialization Job {job}"))
    } else if checking && !was_up {
        let job = obs.database.as_ref().and_then(|d| d.checked_by.clone()).unwrap_or_default();
        (Phase::Pending, format!("checking the database with Job {job}"))
    } else if let Some(DbInit::Waiting(why)) = &obs.db {
        (Phase::InitializingDatabase, why.clone())
    } else if let Some(o) = degraded {
        let s = &components.get(o.component.name()).cloned().unwrap_or_default();
        let stopped = o.deployment.as_ref().is_some_and(stalled);
        let why = if stopped { " (its rollout exceeded its progress deadline)" } else { "" };
        let detail = format!("{} is not ready{why}: {}", o.component.name(), progress(o.component, s));
        (Phase::Degraded, format!("{}{detail}", upgrade.clone().unwrap_or_default()))
    } else if let Some(o) = first_not_ready {
        let s = &components.get(o.component.name()).cloned().unwrap_or_default();
        let phase = if was_up { Phase::Updating } else { Phase::DeployingComponents };
        let upgrade = upgrade.clone().filter(|_| was_up).unwrap_or_default();
        (phase, format!("{upgrade}waiting for {}", waiting(o.component, o.deployment.as_ref(), s)))
    } else if let Some(o) = first_held {
        let phase = if was_up { Phase::Updating } else { Phase::DeployingComponents };
        (phase, crate::database_status::held_because(obs.database.as_ref(), o.component))
    } else {
        (Phase::Running, format!("all {total} components ready"))
    };

    next.phase = Some(phase);
    next.message = Some(message.clone());
    next.ready_components = Some(format!("{ready}/{total}"));
    next.release = running;

    let mut endpoints = BTreeMap::new();
    endpoints.insert("api".to_string(), obs.api_url.clone());
    for o in obs.components.iter().filter(|o| o.deployment.is_some()) {
        let e = o.component.entry();
        let service = crds::names::component(&obs.name, o.component);
        endpoints.insert(e.name.to_string(), format!("http://{service}.{}.svc:{}", obs.namespace, e.port));
    }
    next.endpoints = endpoints;

    if let Some(keys) = &obs.keys {
        next.keys = Some(keys.clone());
    }
    if let Some(DbInit::Done(gen_)) = &obs.db {
        next.database_initialized_generation = Some(*gen_);
    }
    if obs.database.is_some() {
        next.database = obs.database.clone();
    }

    let c = &mut next.conditions;
    let set = |c: &mut Vec<_>, t: &str, s: bool, reason: &str, msg: &str| conditions::set(c, t, s, reason, msg, g, now);
    set(c, READY, phase == Phase::Running, phase.as_str(), &message);
    let progressing = matches!(
        phase,
        Phase::DeployingSecrets | Phase::InitializingDatabase | Phase::DeployingComponents | Phase::Updating
    );
    set(c, PROGRESSING, progressing, phase.as_str(), &message);
    let kong = components.get(Component::Kong.name());
    let kong_ready = kong.is_some_and(|s| s.ready);
    let kong_msg = kong.map(|s| progress(Component::Kong, s)).unwrap_or_else(|| "kong: not deployed".into());
    set(c, AVAILABLE, kong_ready, if kong_ready { "GatewayReady" } else { "GatewayNotReady" }, &kong_msg);
    // An empty message serializes as null, which the CRD schema refuses.
    let degraded_msg = if phase == Phase::Degraded { message.as_str() } else { "no component lost its readiness" };
    set(
        c,
        DEGRADED,
        phase == Phase::Degraded,
        if phase == Phase::Degraded { "ComponentNotReady" } else { "AsExpected" },
        degraded_msg,
    );
    if obs.secrets_ready {
        set(c, SECRETS_READY, true, "SecretsPresent", "every Secret the components consume exists");
    } else {
        let msg = if obs.problems.is_empty() { "creating the generated Secrets".to_string() } else { message.clone() };
        set(c, SECRETS_READY, false, "SecretsMissing", &msg);
    }
    let (db_ok, db_reason, db_msg) = match &obs.db {
        Some(DbInit::NotRequested) => (true, "NotRequested", "spec.database.initialize is false".to_string()),
        Some(DbInit::Done(gen_)) => (true, "Succeeded", format!("initialized at generation {gen_}")),
        Some(DbInit::Running(job)) => (false, "JobRunning", format!("Job {job} is running")),
        Some(DbInit::Failed(why)) => (false, "JobFailed", why.clone()),
        Some(DbInit::Waiting(why)) => (false, "WaitingForDatabase", why.clone()),
        None => (false, "Pending", "waiting for the Secrets".to_string()),
    };
    // Once recorded, the database stays initialized whatever blocks the reconcile now.
    let recorded = next.database_initialized_generation;
    match (obs.db.is_none(), recorded) {
        (true, Some(gen_)) => {
            set(c, DATABASE_INITIALIZED, true, "Succeeded", &format!("initialized at generation {gen_}"))
        }
        _ => set(c, DATABASE_INITIALIZED, db_ok, db_reason, &db_msg),
    }
    let (db_ready, reason, msg) = crate::database_status::condition(next.database.as_ref());
    set(c, DATABASE_READY, db_ready, reason, &msg);
    for e in CATALOG.iter() {
        let type_ = e.condition_type();
        match components.get(e.name) {
            Some(s) => {
                let reason = s.phase.clone().unwrap_or_default();
                set(c, &type_, s.ready, &reason, &progress(e.component, s));
            }
            None => c.retain(|x| x.type_ != type_),
        }
    }
    next.components = components;
    crate::gateway::status(&mut next, obs.gateway.as_ref(), &obs.name, &obs.api_url, g, now);

    // `lastReconcileTime` says when the status last changed, so it moves only with it.
    let mut unchanged = next.clone();
    unchanged.last_reconcile_time = prev.last_reconcile_time.clone();
    if unchanged == *prev {
        return unchanged;
    }
    next.last_reconcile_time = Some(now.clone());
    next
}

/// Whether the last verdict before a check began was not Ready: the findings of that
/// check are still in `status.database` while the next check runs.
fn was_bad(prev: &SupabaseProjectStatus, bad: impl Fn(&str) -> bool) -> bool {
    let reason = conditions::find(&prev.conditions, DATABASE_READY).map(|c| c.reason.as_str()).unwrap_or_default();
    bad(reason) || (reason == "Checking" && prev.database.as_ref().is_some_and(|d| !d.findings.is_empty()))
}

/// An event for a transition between two statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Normal or Warning.
    pub type_: EventType,
    /// PascalCase reason.
    pub reason: String,
    /// Human-readable note (names and counts only).
    pub note: String,
    /// The component the event is about, if any.
    pub component: Option<Component>,
}

/// Whether a project in `phase` has arrived somewhere (done, or stuck until something
/// changes), as opposed to passing through a step of a rollout.
fn settled(phase: Option<Phase>) -> bool {
    matches!(phase, Some(Phase::Running | Phase::Degraded | Phase::Failed))
}

/// The events the change from `prev` to `next` deserves: each component that lost its
/// readiness, and that got it back; a phase change into or out of a settled phase
/// (Running, Degraded, Failed).
///
/// Steps of a rollout get none: a component being applied or becoming ready, or the
/// first phases of a new project (DeployingComponents after the Secrets or the database
/// Job, which have events of their own). Each would repeat what `kubectl get` and the
/// status already show (`readyComponents`, `components.<name>.phase`, the
/// `<Component>Ready` conditions with their transition times) and cost a write per
/// project and step: seven of a new project's nine events were these. What is left
/// tells the story in `kubectl describe`: Secrets generated, Running (or why not), and
/// later every departure from Running and the return to it.
pub fn transitions(prev: &SupabaseProjectStatus, next: &SupabaseProjectStatus) -> Vec<Transition> {
    let mut out = Vec::new();
    for e in CATALOG.iter() {
        let before = prev.components.get(e.name).and_then(|s| s.phase.as_deref());
        let after = next.components.get(e.name).and_then(|s| s.phase.as_deref());
        if before == after {
            continue;
        }
        match after {
            Some(component_phase::READY) if before == Some(component_phase::DEGRADED) => out.push(Transition {
                type_: EventType::Normal,
                reason: "ComponentReady".into(),
                note: format!("{} is ready again", e.name),
                component: Some(e.component),
            }),
            Some(component_phase::DEGRADED) => out.push(Transition {
                type_: EventType::Warning,
                reason: "ComponentDegraded".into(),
                note: if before == Some(component_phase::READY) {
                    format!("{} was ready and is not any more", e.name)
                } else {
                    format!("{} did not become ready within its rollout's progress deadline", e.name)
                },
                component: Some(e.component),
            }),
            _ => {}
        }
    }
    if prev.phase != next.phase
        && (settled(prev.phase) || settled(next.phase))
        && let Some(phase) = next.phase
    {
        let type_ =
            if matches!(phase, Phase::Failed | Phase::Degraded) { EventType::Warning } else { EventType::Normal };
        let note = next.message.clone().unwrap_or_default();
        out.push(Transition { type_, reason: phase.as_str().into(), note, component: None });
    }
    // The database preflight's verdict when something is missing, and Ready once that is
    // fixed; a first Ready, like every step of a rollout, is in the status only.
    let reason = |s: &SupabaseProjectStatus| {
        conditions::find(&s.conditions, DATABASE_READY).map(|c| c.reason.clone()).unwrap_or_default()
    };
    let (before, after) = (reason(prev), reason(next));
    let bad = |r: &str| matches!(r, "Missing" | "Unreachable");
    if before != after
        && (bad(&after) || (after == "Ready" && was_bad(prev, bad)))
        && let Some(c) = conditions::find(&next.conditions, DATABASE_READY)
    {
        let type_ = if c.status == "True" { EventType::Normal } else { EventType::Warning };
        out.push(Transition {
            type_,
            reason: format!("Database{}", c.reason),
            note: c.message.clone(),
            component: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn deployment(ready: bool) -> DeploymentView {
        let n = i32::from(ready);
        serde_json::from_value(json!({"metadata": {"generation": 1}, "spec": {"selector": {}, "template": {
            "spec": {"containers": [{"name": "c", "image": "img:1"}]}}},
            "status": {"observedGeneration": 1, "updatedReplicas": 1, "readyReplicas": n, "availableReplicas": n}}))
        .unwrap()
    }

    fn obs(states: &[Option<bool>]) -> Observation {
        let components = CATALOG
            .iter()
            .zip(states)
            .map(|(e, s)| Observed { component: e.component, deployment: s.map(deployment) })
            .collect();
        Observation {
            name: "demo".into(),
            namespace: "ns".into(),
            generation: Some(1),
            api_url: "https://api.example.com".into(),
            problems: vec![],
            secrets_ready: true,
            db: Some(DbInit::NotRequested),
            database: None,
            held: Default::default(),
            components,
            keys: None,
            release: None,
            gateway: None,
        }
    }

    /// Six default components, each running `release`'s image (`None`: ready or not).
    fn on(images: &[&release::Release], ready: &[bool], target: &str) -> Observation {
        let mut o = obs(&[Some(true); 6]);
        for (i, x) in o.components.iter_mut().enumerate() {
            let d = x.deployment.as_mut().unwrap();
            d.image = Some(images[i].image(x.component).to_string());
            if !ready[i] {
                // Just applied: a new generation the deployment controller has not seen.
                d.metadata.generation = Some(2);
                let s = d.status.as_mut().unwrap();
                s.ready_replicas = Some(0);
                s.available_replicas = Some(0);
            }
        }
        o.release = Some(target.to_string());
        o
    }

    #[test]
    fn an_upgrade_shows_its_progress_and_the_release_arrives_with_the_last_component() {
        let (old, new) = (&release::RELEASES[0], &release::RELEASES[1]);
        let running = compute(&Default::default(), &on(&[old; 6], &[true; 6], old.name), &at(10));
        assert_eq!((running.phase, running.release.as_deref()), (Some(Phase::Running), Some(old.name)));
        assert_eq!(running.components["auth"].release.as_deref(), Some(old.name));

        // Kong (the same image in both) and Auth on the new release; Rest applied, not ready.
        let mid = on(&[new, new, new, old, old, old], &[true, true, false, true, true, true], new.name);
        let s = compute(&running, &mid, &at(20));
        assert_eq!(s.phase, Some(Phase::Updating));
        assert_eq!(s.release.as_deref(), Some(old.name));
        assert_eq!(
            s.message.as_deref(),
            Some("upgrading to 0.8.1 (2/6 components on it): waiting for rest: 0/1 ready")
        );
        assert_eq!(s.components["rest"].release.as_deref(), Some(new.name));

        // Every image applied, the last not ready: still the release before.
        let s = compute(&s, &on(&[new; 6], &[true, true, true, true, true, false], new.name), &at(30));
        assert_eq!(s.release.as_deref(), Some(old.name));
        let done = compute(&s, &on(&[new; 6], &[true; 6], new.name), &at(40));
        assert_eq!((done.phase, done.release.as_deref()), (Some(Phase::Running), Some(new.name)));
        assert_eq!(done.message.as_deref(), Some("all 6 components ready"));
    }

    #[test]
    fn images_of_no_single_release_are_custom() {
        let (old, new) = (&release::RELEASES[0], &release::RELEASES[1]);
        let mut o = on(&[new; 6], &[true; 6], new.name);
        o.components[5].deployment.as_mut().unwrap().image = Some("registry.example.com/meta:mine".into());
        let s = compute(&Default::default(), &o, &at(10));
        assert_eq!(s.release.as_deref(), Some(CUSTOM));
        assert_eq!(s.components["meta"].release, None);
        // A mix of two releases with no upgrade between them is custom too.
        let s = compute(&Default::default(), &on(&[new, new, old, old, old, old], &[true; 6], new.name), &at(10));
        assert_eq!(s.release.as_deref(), Some(CUSTOM));
    }

    #[test]
    fn a_rollout_past_its_progress_deadline_is_degraded_with_an_event() {
        let (old, new) = (&release::RELEASES[0], &release::RELEASES[1]);
        let running = compute(&Default::default(), &on(&[old; 6], &[true; 6], old.name), &at(10));
        let mut o = on(&[new, new, old, old, old, old], &[true, false, true, true, true, true], new.name);
        let applied = compute(&running, &o, &at(15));
        assert_eq!(applied.phase, Some(Phase::Updating));
        // The controller saw the new generation and gave up on its pods.
        let d = o.components[1].deployment.as_mut().unwrap();
        d.status.as_mut().unwrap().observed_generation = Some(2);
        d.status.as_mut().unwrap().conditions = Some(vec![
            serde_json::from_value(json!({
            "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}))
            .unwrap(),
        ]);
        let s = compute(&applied, &o, &at(20));
        assert_eq!(s.phase, Some(Phase::Degraded));
        assert_eq!(
            s.message.as_deref(),
            Some(
                "upgrading to 0.8.1 (1/6 components on it): auth is not ready (its rollout exceeded its progress deadline): auth: 0/1 ready"
            )
        );
        assert!(conditions::is_true(&s.conditions, DEGRADED));
        let t = transitions(&applied, &s);
        assert!(t.iter().any(|t| t.reason == "ComponentDegraded" && t.note.contains("progress deadline")), "{t:?}");
    }

    #[test]
    fn first_rollout_waits_on_the_first_component_not_ready_then_runs() {
        let s = compute(&Default::default(), &obs(&[Some(true), Some(false), None]), &at(10));
        assert_eq!(s.phase, Some(Phase::DeployingComponents));
        assert_eq!(s.message.as_deref(), Some("waiting for auth: 0/1 ready"));
        assert_eq!(s.ready_components.as_deref(), Some("1/3"));
        assert!(conditions::is_true(&s.conditions, AVAILABLE));
        assert!(!conditions::is_true(&s.conditions, READY));
        assert!(conditions::is_true(&s.conditions, "KongReady"));
        assert_eq!(s.components["rest"].phase.as_deref(), Some("Pending"));
        assert_eq!(s.components["kong"].image.as_deref(), Some("img:1"));
        assert_eq!(s.components["rest"].image, None);

        let running = compute(&s, &obs(&[Some(true), Some(true), Some(true)]), &at(20));
        assert_eq!(running.phase, Some(Phase::Running));
        assert!(conditions::is_true(&running.conditions, READY));
        assert_eq!(running.endpoints["auth"], "http://demo-auth.ns.svc:9999");
        assert_eq!(running.endpoints["api"], "https://api.example.com");
        // The steps on the way are in the status; only arriving at Running is an event.
        assert!(transitions(&Default::default(), &s).is_empty());
        let names: Vec<_> = transitions(&s, &running).into_iter().map(|t| t.reason).collect();
        assert_eq!(names, ["Running"]);
    }

    #[test]
    fn the_steps_of_a_first_rollout_with_a_database_job_are_no_events() {
        let mut job = obs(&[None]);
        job.components.clear();
        job.db = Some(DbInit::Running("demo-db-init".into()));
        let initializing = compute(&Default::default(), &job, &at(10));
        assert_eq!(initializing.phase, Some(Phase::InitializingDatabase));
        let mut done = obs(&[Some(false)]);
        done.db = Some(DbInit::Done(1));
        let deploying = compute(&initializing, &done, &at(20));
        assert_eq!(deploying.phase, Some(Phase::DeployingComponents));
        assert!(transitions(&Default::default(), &initializing).is_empty());
        assert!(transitions(&initializing, &deploying).is_empty());
    }

    #[test]
    fn a_component_being_applied_changes_the_status_but_is_no_event() {
        let pending = compute(&Default::default(), &obs(&[Some(true), None]), &at(10));
        let applied = compute(&pending, &obs(&[Some(true), Some(false)]), &at(20));
        assert_eq!(pending.components["auth"].phase.as_deref(), Some("Pending"));
        assert_eq!(applied.components["auth"].phase.as_deref(), Some("Progressing"));
        assert!(transitions(&pending, &applied).is_empty());
    }

    #[test]
    fn an_unchanged_observation_gives_the_identical_status() {
        let s = compute(&Default::default(), &obs(&[Some(true), Some(true)]), &at(10));
        let again = compute(&s, &obs(&[Some(true), Some(true)]), &at(99));
        assert_eq!(again, s);
        assert!(transitions(&s, &again).is_empty());
    }

    #[test]
    fn a_ready_component_losing_pods_degrades_and_a_new_generation_updates() {
        let running = compute(&Default::default(), &obs(&[Some(true), Some(true)]), &at(10));
        let degraded = compute(&running, &obs(&[Some(true), Some(false)]), &at(20));
        assert_eq!(degraded.phase, Some(Phase::Degraded));
        assert!(conditions::is_true(&degraded.conditions, DEGRADED));
        let t = transitions(&running, &degraded);
        let names: Vec<_> = t.iter().map(|t| (t.reason.as_str(), t.type_)).collect();
        assert_eq!(names, [("ComponentDegraded", EventType::Warning), ("Degraded", EventType::Warning)]);
        assert_eq!(t[0].component, Some(Component::Auth));

        // Getting the pods back is an event: it closes the warning a user has read.
        let recovered = compute(&degraded, &obs(&[Some(true), Some(true)]), &at(25));
        let t = transitions(&degraded, &recovered);
        let names: Vec<_> = t.iter().map(|t| (t.reason.as_str(), t.note.as_str())).collect();
        assert_eq!(names, [("ComponentReady", "auth is ready again"), ("Running", "all 2 components ready")]);

        let mut o = obs(&[Some(true), Some(true)]);
        o.generation = Some(2);
        if let Some(d) = o.components[1].deployment.as_mut() {
            d.metadata.generation = Some(2);
        }
        let updating = compute(&running, &o, &at(30));
        assert_eq!(updating.phase, Some(Phase::Updating));
        assert_eq!(updating.observed_generation, Some(2));
        assert!(conditions::is_true(&updating.conditions, PROGRESSING));
        // Leaving Running is an event; the component rolling again is not.
        let names: Vec<_> = transitions(&running, &updating).into_iter().map(|t| t.reason).collect();
        assert_eq!(names, ["Updating"]);
    }

    #[test]
    fn problems_fail_the_project_with_their_message() {
        let mut o = obs(&[None]);
        o.problems = vec!["spec.database.secretRef.passwordKey: Secret \"db\" not found".into()];
        o.secrets_ready = false;
        o.db = None;
        let s = compute(&Default::default(), &o, &at(10));
        assert_eq!(s.phase, Some(Phase::Failed));
        assert!(s.message.as_deref().unwrap_or_default().contains("\"db\" not found"));
        assert!(!conditions::is_true(&s.conditions, SECRETS_READY));
        let t = transitions(&Default::default(), &s);
        assert_eq!(t.last().map(|t| t.type_), Some(EventType::Warning));
    }
}

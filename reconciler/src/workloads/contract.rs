//! Contracts: what upstream runs for a component, written by hand into
//! `reconciler/contracts/<component>.toml` from upstream's files at a pinned commit, and the
//! checks every component's contract test shares (env, and the image's user, entrypoint and
//! writable paths). A component's own test adds what only it has (Kong: routes, consumers).
//!
//! Checks collect [`Findings`] instead of stopping at the first difference, so that one run
//! of the test lists everything an image bump changed, each line naming its item.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{EnvVar, PodSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Reads `reconciler/contracts/<component>.toml`.
pub(super) fn load<T: DeserializeOwned>(component: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts").join(format!("{component}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where the table's facts come from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Upstream {
    pub repo: String,
    pub commit: String,
    pub image: String,
    /// Short names (used by `file` in entries) → paths in `repo`.
    pub files: BTreeMap<String, String>,
}

impl Upstream {
    /// `repo@commit`, shortened, for messages.
    pub fn cite(&self) -> String {
        format!("{}@{}", self.repo, &self.commit[..self.commit.len().min(12)])
    }
}

/// The image: whom it runs as, what it runs, what it writes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Image {
    pub repo: String,
    pub commit: String,
    /// The uid of the image's `USER`.
    pub user: i64,
    /// The image's entrypoint, which an overridden command must still end in.
    pub entrypoint: String,
    /// Whether the entrypoint switches users (then it needs root to start).
    pub switches_user: bool,
    /// Paths the image writes at run time; `$VAR` is read from the rendered env, else `env`.
    pub writes: Vec<String>,
    /// The image's own `ENV` defaults that `writes` refers to.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether the container runs with a read-only root filesystem.
    pub read_only_root: bool,
    /// The uid the operator runs the image as when not `user` (an image without `USER`
    /// runs as root; one whose entrypoint needs nothing root-only runs non-root here).
    pub run_as: Option<i64>,
    /// Why `run_as` differs from `user`.
    pub run_as_why: Option<String>,
    /// When the entrypoint switches users: the steps it runs, in order, which a command that
    /// replaces it must run itself (then as `run_as`, without the switch).
    #[serde(default)]
    pub steps: Vec<String>,
    /// The entrypoint's user switch (`sudo -E -u nobody`), which a replacing command must not use.
    pub switch: Option<String>,
}

/// One environment variable: upstream's, or the operator's own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EnvItem {
    pub name: String,
    /// Upstream's value as upstream writes it; absent for the operator's own variables.
    pub upstream: Option<String>,
    /// Which of `Upstream::files` sets it, when not the first one.
    pub file: Option<String>,
    pub value: Option<String>,
    pub secret: Option<bool>,
    pub ours: Option<String>,
    pub left_out: Option<String>,
    /// Rendered with a value that depends on the project, formed as this says (the golden
    /// tests in `tests.rs` check the values for given projects).
    pub formed: Option<String>,
    /// A case condition (e.g. "dashboard") outside which the variable must be absent.
    pub when: Option<String>,
    pub why: Option<String>,
}

/// What the reconciler must render for an [`EnvItem`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Expect<'a> {
    Literal(&'a str),
    Secret,
    Present,
    Absent(&'a str),
}

impl EnvItem {
    fn expect(&self) -> Result<Expect<'_>, String> {
        let given = [
            self.value.is_some(),
            self.secret == Some(true),
            self.ours.is_some(),
            self.left_out.is_some(),
            self.formed.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!("env {}: give exactly one of value, secret, ours, left_out, formed", self.name));
        }
        if (self.ours.is_some() || self.when.is_some() || self.upstream.is_none()) && self.why.is_none() {
            return Err(format!("env {}: say `why` it is not as upstream has it", self.name));
        }
        if self.upstream.is_none() && self.left_out.is_some() {
            return Err(format!(
                "env {}: a variable upstream does not set is the operator's own, not left out",
                self.name
            ));
        }
        Ok(match (&self.value, &self.ours, &self.left_out) {
            (Some(v), _, _) | (_, Some(v), _) => Expect::Literal(v),
            (_, _, Some(reason)) => Expect::Absent(reason),
            _ if self.formed.is_some() => Expect::Present,
            _ => Expect::Secret,
        })
    }
}

/// Differences found, one line each, naming the item.
#[derive(Debug, Default)]
pub(super) struct Findings(pub Vec<String>);

impl Findings {
    pub fn add(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }

    /// Whether some finding contains `text`.
    pub fn mention(&self, text: &str) -> bool {
        self.0.iter().any(|l| l.contains(text))
    }

    /// Fails the test with every finding, if there is any.
    pub fn assert_none(&self, title: &str) {
        assert!(
            self.0.is_empty(),
            "{title}: the rendering differs from the contract in {} place(s):\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

/// The table's own consistency: every env entry says one thing, with its reasons, and cites
/// a file the table knows.
pub(super) fn check_table(upstream: &Upstream, env: &[EnvItem], f: &mut Findings) {
    if upstream.commit.len() != 40 || !upstream.commit.chars().all(|c| c.is_ascii_hexdigit()) {
        f.add(format!("upstream.commit {:?}: a full commit hash", upstream.commit));
    }
    let mut seen = BTreeSet::new();
    for item in env {
        if !seen.insert(&item.name) {
            f.add(format!("env {}: listed twice", item.name));
        }
        if let Err(e) = item.expect() {
            f.add(e);
        }
        if let Some(file) = &item.file
            && !upstream.files.contains_key(file)
        {
            f.add(format!("env {}: file {file:?} is not one of upstream.files", item.name));
        }
    }
}

/// Compares the container's env (the operator's variables only) with the table, for a case
/// in which `conditions` hold.
pub(super) fn check_env(items: &[EnvItem], conditions: &BTreeSet<&str>, rendered: &[EnvVar], f: &mut Findings) {
    let mut by_name: BTreeMap<&str, &EnvVar> = BTreeMap::new();
    for v in rendered {
        if by_name.insert(&v.name, v).is_some() {
            f.add(format!("env {}: rendered twice", v.name));
        }
    }
    for item in items {
        let Ok(expect) = item.expect() else { continue };
        let upstream = item.upstream.as_deref().unwrap_or("not set upstream");
        let applies = item.when.as_deref().is_none_or(|w| conditions.contains(w));
        match (by_name.get(item.name.as_str()), &expect) {
            (Some(_), Expect::Absent(reason)) => {
                f.add(format!("env {}: rendered, but the contract leaves it out ({reason})", item.name))
            }
            (Some(_), _) if !applies => f.add(format!(
                "env {}: rendered, but only expected with {:?}",
                item.name,
                item.when.as_deref().unwrap_or_default()
            )),
            (None, Expect::Absent(_)) => {}
            (None, _) if !applies => {}
            (None, _) if item.upstream.is_none() => f.add(format!(
                "env {}: the contract has the operator render it ({}), not rendered",
                item.name,
                item.why.as_deref().unwrap_or_default()
            )),
            (None, _) => f.add(format!("env {}: upstream sets it ({upstream}), not rendered", item.name)),
            (Some(v), Expect::Literal(want)) => {
                if v.value.as_deref() != Some(want) || v.value_from.is_some() {
                    f.add(format!(
                        "env {}: rendered {:?}, the contract says {want:?} (upstream: {upstream})",
                        item.name,
                        v.value.as_deref().unwrap_or("<not a literal>")
                    ));
                }
            }
            (Some(_), Expect::Present) => {}
            (Some(v), Expect::Secret) => {
                if v.value.is_some() || v.value_from.as_ref().and_then(|s| s.secret_key_ref.as_ref()).is_none() {
                    f.add(format!("env {}: must come from a secretKeyRef (upstream: {upstream})", item.name));
                }
            }
        }
    }
    let listed: BTreeSet<&str> = items.iter().map(|i| i.name.as_str()).collect();
    for name in by_name.keys().filter(|n| !listed.contains(*n)) {
        f.add(format!(
            "env {name}: rendered, but not in the contract (add it; with `why` if upstream does not set it)"
        ));
    }
}

/// Replaces each `$NAME` in `text` by `vars[NAME]`; a name without a value is a finding.
pub(super) fn expand(text: &str, vars: &BTreeMap<String, String>, what: &str, f: &mut Findings) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
            continue;
        } else if let Some(value) = vars.get(name) {
            out.push_str(value);
        } else {
            f.add(format!("{what}: ${name} has no value in the contract"));
            out.push('$');
            out.push_str(name);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Whether `text` names `path` itself, not a longer path ending in it
/// (`/docker-entrypoint.sh` does not name `/entrypoint.sh`).
fn names_path(text: &str, path: &str) -> bool {
    let path_char = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back().is_none_or(|c| !path_char(c));
        let after = text[at + path.len()..].chars().next().is_none_or(|c| !path_char(c));
        before && after
    })
}

/// Whether `path` lies on a writable volume of the container.
fn writable(pod: &PodSpec, path: &str) -> bool {
    let mounts = pod.containers[0].volume_mounts.clone().unwrap_or_default();
    mounts.iter().any(|m| {
        let under = path == m.mount_path || path.starts_with(&format!("{}/", m.mount_path.trim_end_matches('/')));
        under && m.read_only != Some(true)
    })
}

/// The image's user, entrypoint and writable paths against the rendered pod. `script` is
/// the text of the script an overridden command runs, if it is one the operator ships.
pub(super) fn check_image(image: &Image, pod: &PodSpec, script: Option<&str>, f: &mut Findings) {
    let from = format!("{}@{}", image.repo, &image.commit[..image.commit.len().min(12)]);
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap_or_default();
    let pod_sc = pod.security_context.clone().unwrap_or_default();
    let uid = sc.run_as_user.or(pod_sc.run_as_user);
    let want = image.run_as.unwrap_or(image.user);
    if image.run_as.is_some() != image.run_as_why.is_some() {
        f.add("image: run_as needs run_as_why, and only with run_as");
    }
    let replaced = image.switches_user && !image.steps.is_empty();
    if image.switches_user && !replaced {
        if uid != Some(0) {
            f.add(format!("image: its entrypoint switches users ({from}), which needs root; runs as {uid:?}"));
        }
    } else if uid != Some(want) {
        f.add(format!("image: runs as uid {uid:?}, the contract says {want} ({from})"));
    }
    match &c.command {
        Some(command) if replaced => {
            // The command replaces the entrypoint: it must run each of its steps, in order,
            // itself, and never the user switch that cannot work without root.
            let text = format!("{} {}", command.join(" "), script.unwrap_or_default());
            let mut at = 0;
            for step in &image.steps {
                match text[at..].find(step.as_str()) {
                    Some(i) => at += i + step.len(),
                    None => f.add(format!("image: the command does not run {step:?} where {} does", image.entrypoint)),
                }
            }
            if let Some(switch) = image.switch.as_deref().filter(|s| text.contains(*s)) {
                f.add(format!("image: the command switches users with {switch:?}, which needs root"));
            }
        }
        Some(command) => {
            let text = format!("{} {}", command.join(" "), script.unwrap_or_default());
            if !names_path(&text, &image.entrypoint) {
                f.add(format!("image: the command {command:?} never runs the image's entrypoint {}", image.entrypoint));
            }
        }
        None if replaced => f.add(format!(
            "image: the entrypoint {} switches users ({from}) and the command does not replace it",
            image.entrypoint
        )),
        None => {}
    }
    let read_only = sc.read_only_root_filesystem == Some(true);
    if read_only != image.read_only_root {
        f.add(format!("image: readOnlyRootFilesystem is {read_only}, the contract says {}", image.read_only_root));
    }
    if read_only {
        let mut vars: BTreeMap<String, String> = image.env.clone();
        for v in c.env.clone().unwrap_or_default() {
            if let Some(value) = v.value {
                vars.insert(v.name, value);
            }
        }
        for path in &image.writes {
            let resolved = expand(path, &vars, &format!("image writes {path}"), f);
            if !writable(pod, &resolved) {
                f.add(format!("image: writes {resolved} ({path}), which is on the read-only root"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_named_only_whole() {
        assert!(names_path("entrypoint=/entrypoint.sh\n", "/entrypoint.sh"));
        assert!(names_path("exec /entrypoint.sh kong", "/entrypoint.sh"));
        assert!(!names_path("entrypoint=/docker-entrypoint.sh\n", "/entrypoint.sh"));
        assert!(!names_path("/entrypoint.sh.bak", "/entrypoint.sh"));
    }

    #[test]
    fn expand_fills_names_and_reports_unknown_ones() {
        let vars = BTreeMap::from([("A".to_string(), "x".to_string())]);
        let mut f = Findings::default();
        assert_eq!(expand("$A-$(q) $1 $", &vars, "t", &mut f), "x-$(q) $1 $");
        assert!(f.0.is_empty(), "{:?}", f.0);
        assert_eq!(expand("p $B", &vars, "t", &mut f), "p $B");
        assert!(f.mention("t: $B has no value"), "{:?}", f.0);
    }
}

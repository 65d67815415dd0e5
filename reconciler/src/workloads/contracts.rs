//! Auth, PostgREST, Realtime, Storage, postgres-meta, Studio and Edge Functions against their contracts
//! (`reconciler/contracts/<component>.toml`, Kong's format; Kong has its own test for its
//! routes): every variable upstream sets, and the image's user, entrypoint and writable
//! paths, for a default project and for one with SMTP, S3, TLS and Studio with its AI key.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::contract::{self, EnvItem, Findings, Image, Upstream};
use super::fixtures::{full, full_new_keys, minimal, minimal_new_keys, with_imgproxy};
use super::{Component, component};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentContract {
    upstream: Upstream,
    image: Image,
    env: Vec<EnvItem>,
}

/// The components with a contract of this shape (`contracts/<name>.toml`).
const COMPONENTS: [Component; 8] = [
    Component::Auth,
    Component::Rest,
    Component::Realtime,
    Component::Imgproxy,
    Component::Storage,
    Component::Meta,
    Component::Studio,
    Component::Functions,
];

/// Every difference between `project`'s rendering of `c` and its contract.
fn check(c: Component, file: &str, project: &crds::SupabaseProject, conditions: &BTreeSet<&str>) -> Findings {
    let contract: ComponentContract = contract::load(file);
    let mut f = Findings::default();
    contract::check_table(&contract.upstream, &contract.env, &mut f);
    if c.entry().image() != contract.upstream.image {
        f.add(format!(
            "catalog image {}, the contract's upstream image {}",
            c.entry().image(),
            contract.upstream.image
        ));
    }
    let o = component(project, c, "h").expect("renders");
    let pod = o.deployment.spec.and_then(|s| s.template.spec).expect("pod");
    contract::check_env(&contract.env, conditions, &pod.containers[0].env.clone().unwrap_or_default(), &mut f);
    contract::check_image(&contract.image, &pod, None, &mut f);
    f
}

#[test]
fn a_default_project_renders_each_component_as_its_contract_says() {
    for c in COMPONENTS {
        let file = c.name();
        check(c, file, &minimal(), &BTreeSet::from(["file"]))
            .assert_none(&format!("{c}, default project, reconciler/contracts/{file}.toml"));
    }
}

#[test]
fn a_project_with_smtp_s3_and_tls_renders_each_component_as_its_contract_says() {
    for c in COMPONENTS {
        let file = c.name();
        check(c, file, &full(), &BTreeSet::from(["smtp", "s3", "ai"]))
            .assert_none(&format!("{c}, full project, reconciler/contracts/{file}.toml"));
    }
}

#[test]
fn projects_with_the_new_keys_render_each_component_as_its_contract_says() {
    for c in COMPONENTS {
        let file = c.name();
        check(c, file, &minimal_new_keys(), &BTreeSet::from(["file", "new_keys"]))
            .assert_none(&format!("{c}, default project with the new keys, reconciler/contracts/{file}.toml"));
        check(c, file, &full_new_keys(), &BTreeSet::from(["smtp", "s3", "ai", "new_keys"]))
            .assert_none(&format!("{c}, full project with the new keys, reconciler/contracts/{file}.toml"));
    }
}

#[test]
fn projects_with_imgproxy_render_it_and_storage_as_their_contracts_say() {
    for c in [Component::Imgproxy, Component::Storage] {
        let file = c.name();
        check(c, file, &with_imgproxy(minimal()), &BTreeSet::from(["file", "imgproxy"]))
            .assert_none(&format!("{c}, default project with imgproxy, reconciler/contracts/{file}.toml"));
        check(c, file, &with_imgproxy(full()), &BTreeSet::from(["smtp", "s3", "ai", "imgproxy"]))
            .assert_none(&format!("{c}, full project with imgproxy, reconciler/contracts/{file}.toml"));
    }
}

/// The contracts' point on an image bump: a rendering that drifts from one is named.
#[test]
fn the_checker_names_a_realtime_that_its_entrypoint_would_refuse() {
    let contract: ComponentContract = contract::load("realtime");
    let o = component(&minimal(), Component::Realtime, "h").expect("renders");
    let mut pod = o.deployment.spec.and_then(|s| s.template.spec).expect("pod");
    // The image's own entrypoint, as the operator rendered it before: run.sh's sudo under
    // uid 65534 without privilege escalation.
    pod.containers[0].command = None;
    let mut f = Findings::default();
    contract::check_image(&contract.image, &pod, None, &mut f);
    assert!(f.mention("does not replace it"), "{:?}", f.0);
    // A command that keeps the switch, or skips the migrations.
    let mut f = Findings::default();
    pod.containers[0].command =
        Some(vec!["bash".into(), "-c".into(), "sudo -E -u nobody /app/bin/migrate; exec /app/bin/server".into()]);
    contract::check_image(&contract.image, &pod, None, &mut f);
    assert!(f.mention("switches users"), "{:?}", f.0);
    assert!(f.mention("Realtime.Release.seeds"), "{:?}", f.0);
}

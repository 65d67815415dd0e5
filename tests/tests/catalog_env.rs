//! Each component's description (`crds::catalog`) lists the variables the operator sets;
//! the webhook protects exactly those from the user's `env`, and the reconciler refuses to
//! render a variable its description does not list. What is left to check is the other
//! way: a listed variable no configuration renders refuses a harmless setting. Renders
//! every component of the samples (file and S3 storage, with and without SMTP, Studio
//! and dashboard), each as stored and with Supabase's new keys turned on, and compares.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use crds::{CATALOG, Component, SupabaseProject};

fn sample(file: &str) -> SupabaseProject {
    let text = std::fs::read_to_string(harness::repo_path(&format!("config/samples/{file}"))).unwrap();
    let doc = serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| <serde_yaml::Value as serde::Deserialize>::deserialize(d).ok())
        .find(|v| v["kind"] == "SupabaseProject")
        .unwrap_or_else(|| panic!("no SupabaseProject in {file}"));
    let mut project: SupabaseProject = serde_yaml::from_value(doc).unwrap();
    project.metadata.namespace = Some("team-a".into());
    project.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    project.spec = crds::defaults(project.spec);
    project
}

#[test]
fn every_variable_a_description_lists_is_rendered() {
    let mut rendered: BTreeMap<Component, BTreeSet<String>> = BTreeMap::new();
    let samples = ["minimal.yaml", "full.yaml", "studio.yaml"].map(sample);
    let with_new_keys = samples.clone().map(|mut p| {
        p.spec.jwt.get_or_insert_default().keys = Some(crds::project::KeyScheme::Both);
        p
    });
    for project in samples.iter().chain(&with_new_keys) {
        for entry in &CATALOG {
            let extra: BTreeSet<String> = project
                .spec
                .components
                .as_ref()
                .and_then(|c| c.workload(entry.component))
                .and_then(|w| w.env.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.name)
                .collect();
            let objects = reconciler::workloads::component(project, entry.component, "hash").unwrap();
            let pod = objects.deployment.spec.unwrap().template.spec.unwrap();
            let containers = pod.containers.into_iter().chain(pod.init_containers.unwrap_or_default());
            let names =
                containers.flat_map(|c| c.env.unwrap_or_default()).map(|e| e.name).filter(|n| !extra.contains(n));
            rendered.entry(entry.component).or_default().extend(names);
        }
    }
    let mut problems = Vec::new();
    for entry in &CATALOG {
        let listed: BTreeSet<String> = entry.env.iter().map(|s| s.to_string()).collect();
        let set = &rendered[&entry.component];
        let unlisted: Vec<_> = set.difference(&listed).collect();
        let unrendered: Vec<_> = listed.difference(set).collect();
        if !unlisted.is_empty() || !unrendered.is_empty() {
            problems.push(format!(
                "{}: set by the reconciler but not protected: {unlisted:?}; protected but never set: {unrendered:?}",
                entry.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

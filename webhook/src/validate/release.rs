//! Rule 14: `spec.release` names a release the operator knows, and a move between
//! releases is one upstream supports.
//!
//! Upstream's upgrade tool gates on the releases between the installed and the target
//! one (supabase/supabase docker/upgrades.json @ 5c923117e5cc: "update.sh gates on
//! entries in (your version, target version]"); an entry marks a release with a
//! breaking change or a script to run first. So an upgrade that passes over a gated
//! release is refused (stop there first); one onto a gated release is allowed with its
//! steps as warnings. Upstream has no downgrade path, and Auth and Storage migrate
//! their schemas forward when they start: moving back is allowed, since it is how a
//! failed upgrade is rolled back, and warned about.

use crds::release::{self, RELEASES, Release};
use crds::{CATALOG, SupabaseProjectSpec};

use super::{Cause, Input, Rule};

const FIELD: &str = "spec.release";

pub(super) fn check(input: &Input<'_>, causes: &mut Vec<Cause>, warnings: &mut Vec<String>) {
    let Some(name) = input.spec.release.as_deref() else { return };
    if release::find(name).is_none() {
        causes.push(Cause::unsupported(
            Rule::Release,
            FIELD,
            format!("{name:?}"),
            format!("supported values: {}", release::known()),
        ));
        return;
    }
    let Some(old) = input.old else { return };
    // A project stored without the field is on the release its images are, if any.
    let Some(from) = release::of(old).map(|r| r.name) else { return };
    if from == name {
        return;
    }
    match step(&RELEASES, from, name) {
        Err(detail) => causes.push(Cause::forbidden(Rule::Release, FIELD, detail)),
        Ok(notes) => {
            warnings.extend(notes);
            warnings.extend(changes(old, input.spec, name));
        }
    }
}

/// Whether moving from `from` to `to` (both in `releases`, oldest first) is allowed;
/// if so, the warnings it deserves beyond the image changes.
fn step(releases: &[Release], from: &str, to: &str) -> Result<Vec<String>, String> {
    let position = |n: &str| releases.iter().position(|r| r.name == n);
    let (Some(a), Some(b)) = (position(from), position(to)) else { return Ok(Vec::new()) };
    if b < a {
        return Ok(vec![format!(
            "{FIELD}: moving back from {from} to {to}: Auth and Storage keep the database schema migrations \
             {from} ran, and upstream does not test the older versions on them"
        )]);
    }
    if let Some(gated) = releases[a + 1..b].iter().find(|r| r.gate) {
        return Err(format!(
            "an upgrade from {from} to {to} passes over {}, which upstream requires as a step \
             (docker/upgrades.json): set {} first, then {to}",
            gated.name, gated.name
        ));
    }
    Ok(releases[a + 1..=b]
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{FIELD}: {}: {n}", r.name)))
        .collect())
}

/// The image each component changes to, and the images that stay because the spec
/// sets them: `spec.components.auth.image: supabase/gotrue:v2.189.0 -> v2.196.0`.
fn changes(old: &SupabaseProjectSpec, new: &SupabaseProjectSpec, to: &str) -> Vec<String> {
    let Some(target) = release::find(to) else { return Vec::new() };
    let mut out = Vec::new();
    for e in CATALOG.iter() {
        let image = |s: &SupabaseProjectSpec| s.workload(e.component).and_then(|w| w.image.clone()).unwrap_or_default();
        let (before, after) = (image(old), image(new));
        let field = format!("spec.components.{}.image", e.name);
        if before != after {
            out.push(format!("{field}: {before} -> {after}"));
        } else if after != target.image(e.component) {
            out.push(format!(
                "{field}: stays {after} (set in the spec), not {to}'s {}: remove the field to follow the release",
                target.image(e.component)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use super::*;

    fn on(release: &str) -> Case {
        Case::valid().with(|s| {
            s.release = Some(release.into());
            for e in CATALOG.iter() {
                let image = release::find(release).unwrap().image(e.component).to_string();
                s.components.as_mut().unwrap().workload_mut(e.component).unwrap().image = Some(image);
            }
        })
    }

    #[test]
    fn an_unknown_release_is_refused_with_the_known_ones() {
        let report = on("0.8.1").with(|s| s.release = Some("9.9.9".into())).run();
        let shown: Vec<String> = report.causes.iter().map(ToString::to_string).collect();
        assert_eq!(shown, [r#"spec.release: Unsupported value: "9.9.9": supported values: "0.8.0", "0.8.1""#]);
        assert!(on("0.8.1").run().causes.is_empty());
    }

    #[test]
    fn an_upgrade_warns_with_every_image_that_changes_and_the_release_notes() {
        let old = on("0.8.0").spec;
        let report = on("0.8.1").with_old(old).run();
        assert!(report.causes.is_empty(), "{:?}", report.causes);
        let w = &report.warnings;
        assert!(w.contains(&"spec.components.auth.image: supabase/gotrue:v2.189.0 -> supabase/gotrue:v2.196.0".into()));
        assert!(w.iter().any(|x| x.starts_with("spec.release: 0.8.1: Auth and Storage migrate")), "{w:?}");
        assert!(!w.iter().any(|x| x.starts_with("spec.components.kong")), "kong is the same in both: {w:?}");
    }

    #[test]
    fn a_downgrade_is_allowed_with_a_warning_about_the_migrations() {
        let report = on("0.8.0").with_old(on("0.8.1").spec).run();
        assert!(report.causes.is_empty());
        assert!(
            report.warnings[0].starts_with("spec.release: moving back from 0.8.1 to 0.8.0"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn an_override_that_stays_is_named() {
        let mine = |s: &mut SupabaseProjectSpec| {
            s.components.as_mut().unwrap().meta.as_mut().unwrap().workload.image = Some("r.example/m:1".into())
        };
        let old = on("0.8.0").with(mine).spec;
        let report = on("0.8.1").with(mine).with_old(old).run();
        assert!(
            report.warnings.iter().any(|w| w.starts_with("spec.components.meta.image: stays r.example/m:1")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn a_skip_over_a_gated_release_is_refused_and_onto_one_is_not() {
        let r =
            |name, gate| Release { name, upstream: "", images: RELEASES[0].images, notes: &["run the script"], gate };
        let releases = [r("1", false), r("2", true), r("3", false)];
        let refused = step(&releases, "1", "3").unwrap_err();
        assert!(refused.contains("passes over 2") && refused.contains("set 2 first"), "{refused}");
        assert_eq!(step(&releases, "1", "2").unwrap(), ["spec.release: 2: run the script"]);
        assert!(step(&releases, "2", "3").is_ok());
        assert!(step(&releases, "3", "1").unwrap()[0].contains("moving back"));
    }
}

//! Named Supabase releases: image sets that upstream publishes as tested together
//! (its self-hosted releases, `self-hosted/vX.Y.Z` tags of supabase/supabase, keyed by
//! bare semver in docker/upgrades.json @ 5c923117e5cc). A project names one in
//! `spec.release`; a component's image is the release's unless the spec overrides it.
//!
//! The resolved images stay in the spec (the webhook writes them, as it always did):
//! the stored object shows exactly what runs, a project stored before `release`
//! existed keeps its images, and a newer catalog in a newer operator changes no stored
//! spec. Moving a project is one field: on an UPDATE that changes `spec.release`, the
//! webhook drops every image that followed the old release (see [`follow`]) and the
//! defaults fill the new release's.

use crate::catalog::{CATALOG, Component};
use crate::project::SupabaseProjectSpec;

/// One upstream self-hosted release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// The name in `spec.release`: upstream's version, bare semver.
    pub name: &'static str,
    /// Where upstream publishes this image set.
    pub upstream: &'static str,
    /// One image per component, in catalog (rollout) order.
    pub images: [&'static str; CATALOG.len()],
    /// What changes for the user who moves to this release from the one before, beyond
    /// the images: shown as admission warnings. The rendered configuration is the same
    /// for every release here: where a setting was renamed between them, the builders
    /// set both names (Storage's `AUTH_JWT_SECRET` and `PGRST_JWT_SECRET`, see
    /// reconciler/src/workloads/storage.rs; Realtime's `run.sh` user switch, see
    /// realtime.rs), so a change of release changes images only and a rollback renders
    /// what ran before.
    pub notes: &'static [&'static str],
    /// Whether upstream's docker/upgrades.json gates upgrades past this release (a
    /// breaking change or a script to run first): then a project must stop here on its
    /// way up, and admission refuses an upgrade that skips it.
    pub gate: bool,
}

impl Release {
    /// The release's image for `component`.
    pub fn image(&self, component: Component) -> &'static str {
        self.images[component as usize]
    }
}

/// Every release the operator knows, oldest first: the order of upgrades.
pub const RELEASES: [Release; 2] = [
    Release {
        name: "0.8.0",
        // supabase/supabase PR #50172 ("update 2026-09-09 - 0.8.1") lists each image it
        // replaced: those are 0.8.0's. Kong is an override there (docker-compose.kong.yml,
        // Envoy is upstream's default gateway since 0.8.0, PR #48153) and was not changed.
        upstream: "supabase/supabase self-hosted/v0.8.0 (the `prev` images of PR #50172)",
        images: [
            "kong/kong:3.9.3",
            "supabase/gotrue:v2.189.0",
            "postgrest/postgrest:v14.12",
            "supabase/realtime:v2.102.3",
            // Not readable in PR #50172 here; the compose of the 0.8.0 set (storage v1.60.4,
            // studio 2026.08.03-sha-022b374) ran v3.30.1, as copies of it record.
            "darthsim/imgproxy:v3.30.1",
            "supabase/storage-api:v1.60.4",
            "supabase/postgres-meta:v0.96.6",
            "supabase/studio:2026.08.03-sha-022b374",
            // PR #50172: `supabase/edge-runtime:v1.76.2 (prev supabase/edge-runtime:v1.74.0)`.
            "supabase/edge-runtime:v1.74.0",
        ],
        notes: &[],
        // upgrades.json @ 5c923117e5cc has entries for 0.6.0 and 0.7.0 only.
        gate: false,
    },
    Release {
        name: "0.8.1",
        // supabase/supabase docker/docker-compose.yml @ 1f37f2a9d82d and PR #50172; Kong from
        // docker-compose.kong.yml @ 1f37f2a9d82d, the override that pins upstream's Kong.
        upstream: "supabase/supabase self-hosted/v0.8.1 (docker/docker-compose.yml @ 1f37f2a9d82d, PR #50172)",
        images: [
            "kong/kong:3.9.3",
            "supabase/gotrue:v2.196.0",
            "postgrest/postgrest:v14.17",
            "supabase/realtime:v2.134.10",
            "darthsim/imgproxy:v3.31.4",
            "supabase/storage-api:v1.74.0",
            "supabase/postgres-meta:v0.99.0",
            "supabase/studio:2026.09.07-sha-7996410",
            "supabase/edge-runtime:v1.76.2",
        ],
        notes: &[
            "Auth and Storage migrate their database schemas when the new version starts; moving back to 0.8.0 \
             runs the old versions on the migrated schemas (see the README, Upgrading)",
            "PostgREST 14.12 -> 14.17 and Realtime 2.102 -> 2.134 are minor releases upstream; no setting changes",
        ],
        gate: false,
    },
];

/// The release new projects get: the newest.
pub fn current() -> &'static Release {
    &RELEASES[RELEASES.len() - 1]
}

/// The release named `name`.
pub fn find(name: &str) -> Option<&'static Release> {
    RELEASES.iter().find(|r| r.name == name)
}

/// Position of a release in the upgrade order.
pub fn position(name: &str) -> Option<usize> {
    RELEASES.iter().position(|r| r.name == name)
}

/// The names of every known release, for messages: `"0.8.0", "0.8.1"`.
pub fn known() -> String {
    RELEASES.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", ")
}

/// The release whose images a spec runs exactly, for a project stored before
/// `spec.release` existed: its images were written by an older webhook, and when they
/// are a known release's set the project is on that release. `None`: custom images.
/// A component without an image counts as matching: one added to the catalog after the
/// project was stored (imgproxy, Functions) has none until the spec is defaulted again, and its
/// image then comes from the release inferred here.
pub fn inferred(spec: &SupabaseProjectSpec) -> Option<&'static Release> {
    RELEASES.iter().rev().find(|r| {
        CATALOG.iter().all(|e| {
            spec.workload(e.component).and_then(|w| w.image.as_deref()).is_none_or(|i| i == r.image(e.component))
        })
    })
}

/// The release a spec is on: the one it names, else the one its images are.
pub fn of(spec: &SupabaseProjectSpec) -> Option<&'static Release> {
    match spec.release.as_deref() {
        Some(name) => find(name),
        None => inferred(spec),
    }
}

/// Whether `image` followed the release of `previous` for `component`, rather than
/// being the user's override: it equals that release's image. A project stored before
/// `release` existed had every omitted image written from the catalog of its day, so
/// there an image any known release pins counts as following.
fn followed(previous: &SupabaseProjectSpec, component: Component, image: &str) -> bool {
    match previous.release.as_deref().and_then(find) {
        Some(r) => r.image(component) == image,
        None => RELEASES.iter().any(|r| r.image(component) == image),
    }
}

/// One-field upgrades: when `spec.release` changes from the stored spec `previous`,
/// clears each image that followed the old release, so defaulting fills the new
/// release's. An image the user set (one the old release does not pin) stays.
/// Returns the components whose image now follows the new release.
pub fn follow(spec: &mut SupabaseProjectSpec, previous: &SupabaseProjectSpec) -> Vec<Component> {
    let Some(to) = spec.release.as_deref().and_then(find) else { return Vec::new() };
    if previous.release.as_deref() == Some(to.name) {
        return Vec::new();
    }
    let mut moved = Vec::new();
    for e in CATALOG.iter() {
        let Some(w) = spec.workload_mut(e.component) else { continue };
        // An image that is the new release's already has nowhere to move (and moving it
        // would make the webhook's patch differ from an empty one on a resend).
        let stays = |image: &str| image == to.image(e.component) || !followed(previous, e.component, image);
        if w.image.as_deref().is_some_and(|image| !stays(image)) {
            w.image = None;
            moved.push(e.component);
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(release: Option<&str>, images: &Release) -> SupabaseProjectSpec {
        let s: SupabaseProjectSpec = serde_json::from_value(serde_json::json!({
            "apiExternalUrl": "https://api.example.com", "database": {"secretRef": {"name": "db"}}
        }))
        .unwrap();
        let mut s = crate::defaults(s);
        for e in CATALOG.iter() {
            s.workload_mut(e.component).unwrap().image = Some(images.image(e.component).to_string());
        }
        s.release = release.map(str::to_string);
        s
    }

    #[test]
    fn every_release_pins_every_image_with_a_tag_and_names_are_unique() {
        for r in &RELEASES {
            for image in r.images {
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
                assert!(!tag.is_empty() && tag != "latest", "{} {image}", r.name);
            }
            assert_eq!(position(r.name).map(|i| RELEASES[i].name), Some(r.name));
        }
        assert_eq!(known(), "\"0.8.0\", \"0.8.1\"");
    }

    #[test]
    fn a_stored_project_without_release_is_on_the_release_its_images_are() {
        let old = &RELEASES[0];
        assert_eq!(inferred(&spec(None, old)).map(|r| r.name), Some("0.8.0"));
        let mut custom = spec(None, old);
        custom.workload_mut(Component::Auth).unwrap().image = Some("registry.example.com/gotrue:mine".into());
        assert_eq!(inferred(&custom), None);
    }

    #[test]
    fn a_project_stored_before_imgproxy_existed_stays_on_its_release() {
        let mut stored = spec(None, &RELEASES[0]);
        stored.components.as_mut().unwrap().imgproxy = None;
        stored.release = None;
        assert_eq!(inferred(&stored).map(|r| r.name), Some("0.8.0"));
        // Defaulting it again fills imgproxy from that release, and the release is written.
        let again = crate::defaults(stored);
        assert_eq!(again.release.as_deref(), Some("0.8.0"));
        assert_eq!(
            again.workload(Component::Imgproxy).unwrap().image.as_deref(),
            Some(RELEASES[0].image(Component::Imgproxy))
        );
    }

    #[test]
    fn changing_the_release_moves_the_images_that_followed_it_and_keeps_overrides() {
        let previous = spec(Some("0.8.0"), &RELEASES[0]);
        let mut next = previous.clone();
        next.workload_mut(Component::Rest).unwrap().image = Some("registry.example.com/postgrest:mine".into());
        let mut previous_with_override = previous.clone();
        previous_with_override.workload_mut(Component::Rest).unwrap().image =
            Some("registry.example.com/postgrest:mine".into());
        next.release = Some("0.8.1".into());
        let moved = follow(&mut next, &previous_with_override);
        assert!(!moved.contains(&Component::Rest) && moved.contains(&Component::Auth), "{moved:?}");
        let next = crate::defaults(next);
        assert_eq!(next.workload(Component::Auth).unwrap().image.as_deref(), Some("supabase/gotrue:v2.196.0"));
        assert_eq!(
            next.workload(Component::Rest).unwrap().image.as_deref(),
            Some("registry.example.com/postgrest:mine")
        );
        // The same release again moves nothing.
        let mut same = spec(Some("0.8.0"), &RELEASES[0]);
        assert!(follow(&mut same, &previous).is_empty());
    }

    #[test]
    fn a_project_stored_before_release_existed_follows_from_any_known_image() {
        let mut previous = spec(None, &RELEASES[0]);
        previous.workload_mut(Component::Studio).unwrap().image = Some("supabase/studio:2026.07.07-sha-a6a04f2".into());
        let mut next = previous.clone();
        next.release = Some("0.8.1".into());
        let moved = follow(&mut next, &previous);
        // Every component whose image the two releases differ in moves, but Studio's custom
        // image (and Kong, the same in both).
        let differ = CATALOG
            .iter()
            .filter(|e| {
                e.component != Component::Studio && RELEASES[0].image(e.component) != RELEASES[1].image(e.component)
            })
            .count();
        assert_eq!(moved.len(), differ, "{moved:?}");
        assert!(!moved.contains(&Component::Studio) && !moved.contains(&Component::Kong));
    }
}

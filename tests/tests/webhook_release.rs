//! Moving a project between releases the way a user does: `kubectl apply` of the same
//! manifest with `spec.release` changed, through the real webhook registered with the
//! test apiserver (both configurations, as in webhook_apiserver.rs). The expected images
//! come from the catalog's release table, so the test follows the catalog; it first
//! checks that the two releases differ, or an upgrade that moved nothing would pass.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crds::release::{RELEASES, Release};
use crds::{CATALOG, SupabaseProject};
use harness::kubectl::Output;
use harness::webhook::Admitting;

const OLD: &Release = &RELEASES[0];
const NEW: &Release = &RELEASES[1];

async fn setup(test: &str) -> Admitting {
    let s = Admitting::start(test, &[]).await;
    s.secret("demo-db", &[("host", "db.example.com"), ("port", "5432"), ("database", "postgres"), ("password", "pw")])
        .await;
    s
}

/// The stored release and each component's image, in catalog order.
async fn stored(s: &Admitting) -> (Option<String>, Vec<Option<String>>) {
    let p: SupabaseProject = s.env.api().get("demo").await.expect("stored");
    let images = CATALOG.iter().map(|e| p.spec.workload(e.component).and_then(|w| w.image.clone())).collect();
    (p.spec.release, images)
}

/// The project a user keeps in a file: only `release` (and `extra`) changes between applies.
fn manifest(release: &str, extra: &str) -> String {
    format!("{}  release: {release}\n{extra}", harness::fixtures::MINIMAL_PROJECT)
}

/// Every catalog image of `release`, as the stored spec should hold them.
fn images_of(release: &Release) -> Vec<Option<String>> {
    CATALOG.iter().map(|e| Some(release.image(e.component).to_string())).collect()
}

/// kubectl's `Warning: ` lines about one component's image.
fn image_warnings<'a>(out: &'a Output, component: &str) -> Vec<&'a str> {
    let prefix = format!("Warning: spec.components.{component}.image:");
    out.stderr.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// Each image that differs between `from` and `to` is named in one warning with both
/// images; an image the releases share gets none.
fn assert_image_changes_warned(out: &Output, from: &Release, to: &Release) {
    for e in CATALOG.iter() {
        let (before, after) = (from.image(e.component), to.image(e.component));
        let lines = image_warnings(out, e.name);
        if before == after {
            assert!(lines.is_empty(), "{} is the same in both releases, yet warned: {lines:?}", e.name);
        } else {
            assert_eq!(lines.len(), 1, "one warning for {}:\n{}", e.name, out.stderr);
            assert!(lines[0].contains(before) && lines[0].contains(after), "{}: {}", e.name, lines[0]);
        }
    }
}

#[tokio::test]
async fn a_project_moves_between_releases_by_one_field_with_kubectl_apply() {
    let differing: Vec<&str> =
        CATALOG.iter().filter(|e| OLD.image(e.component) != NEW.image(e.component)).map(|e| e.name).collect();
    assert!(!differing.is_empty(), "{} and {} have the same images: an upgrade could not be seen", OLD.name, NEW.name);

    let s = setup("wh-release-upgrade").await;

    // 1. Created on the older release: the webhook writes its images into the spec.
    let out = s.apply(manifest(OLD.name, "")).await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(stored(&s).await, (Some(OLD.name.to_string()), images_of(OLD)));

    // 2. The same file with only the release changed: every image moves, each change warned.
    let out = s.apply(manifest(NEW.name, "")).await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(stored(&s).await, (Some(NEW.name.to_string()), images_of(NEW)));
    assert_image_changes_warned(&out, OLD, NEW);

    // 4. An unknown release is refused naming the field and every known release; nothing changes.
    let out = s.apply(manifest("9.9.9", "")).await;
    assert!(!out.success, "9.9.9 was admitted:\n{}", out.stdout);
    assert!(out.stderr.contains(r#"spec.release: Unsupported value: "9.9.9""#), "{}", out.stderr);
    for r in RELEASES.iter() {
        assert!(out.stderr.contains(&format!("{:?}", r.name)), "{} not listed:\n{}", r.name, out.stderr);
    }
    assert_eq!(stored(&s).await, (Some(NEW.name.to_string()), images_of(NEW)));

    // 5. Back to the older release: admitted with the downgrade warning, the images return.
    let out = s.apply(manifest(OLD.name, "")).await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(stored(&s).await, (Some(OLD.name.to_string()), images_of(OLD)));
    let back: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("Warning: spec.release:")).collect();
    assert!(
        back.iter().any(|l| l.contains("back") && l.contains(NEW.name) && l.contains(OLD.name)),
        "no downgrade warning:\n{}",
        out.stderr
    );
    assert_image_changes_warned(&out, NEW, OLD);
    s.done().await;
}

#[tokio::test]
async fn an_upgrade_with_kubectl_apply_keeps_an_overridden_image_and_names_it() {
    // Override a component whose image the releases change, so following the release would show.
    let e = CATALOG.iter().find(|e| OLD.image(e.component) != NEW.image(e.component)).expect("a differing image");
    let mine = format!("registry.example.com/mirror/{}:pinned-1", e.name);
    let extra = format!("  components:\n    {}:\n      image: {mine}\n", e.name);

    let s = setup("wh-release-override").await;
    let out = s.apply(manifest(OLD.name, &extra)).await;
    assert!(out.success, "{}", out.stderr);
    let mut expected = images_of(OLD);
    expected[e.component as usize] = Some(mine.clone());
    assert_eq!(stored(&s).await, (Some(OLD.name.to_string()), expected));

    let out = s.apply(manifest(NEW.name, &extra)).await;
    assert!(out.success, "{}", out.stderr);
    let mut expected = images_of(NEW);
    expected[e.component as usize] = Some(mine.clone());
    assert_eq!(stored(&s).await, (Some(NEW.name.to_string()), expected), "the override was not kept");

    let lines = image_warnings(&out, e.name);
    assert_eq!(lines.len(), 1, "one warning for the override:\n{}", out.stderr);
    assert!(
        lines[0].contains(&mine) && lines[0].contains(NEW.image(e.component)),
        "the warning names neither the override nor the release's image: {}",
        lines[0]
    );
    // The other images moved and were warned about as usual.
    for other in CATALOG.iter().filter(|o| o.component != e.component) {
        let (before, after) = (OLD.image(other.component), NEW.image(other.component));
        let lines = image_warnings(&out, other.name);
        assert_eq!(lines.len(), usize::from(before != after), "{}:\n{}", other.name, out.stderr);
    }
    s.done().await;
}

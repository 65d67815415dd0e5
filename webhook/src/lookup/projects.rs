//! Which namespaces hold a SupabaseProject, from a metadata-only watch of the projects
//! (names and namespaces, a few hundred bytes each), driving the per-namespace Secret
//! watches.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crds::SupabaseProject;
use futures::StreamExt;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::watches::Watches;

/// A project by namespace and name.
pub(crate) type Key = (String, String);

/// Project names by namespace, kept from watch events.
#[derive(Debug, Default)]
pub(crate) struct Index {
    live: BTreeMap<String, BTreeSet<String>>,
    /// While the watch re-lists: what it has listed so far, swapped in when it is done.
    relisting: Option<BTreeMap<String, BTreeSet<String>>>,
    listed: bool,
}

impl Index {
    /// Takes one event. Returns whether the set of namespaces changed, counting the end of
    /// the first listing as a change (the moment the watches can first be started).
    pub(crate) fn apply(&mut self, event: watcher::Event<Key>) -> bool {
        match event {
            watcher::Event::Init => {
                self.relisting = Some(BTreeMap::new());
                false
            }
            watcher::Event::InitApply((ns, name)) => {
                self.relisting.get_or_insert_with(BTreeMap::new).entry(ns).or_default().insert(name);
                false
            }
            watcher::Event::InitDone => {
                let listed = self.relisting.take().unwrap_or_default();
                let changed = !listed.keys().eq(self.live.keys());
                self.live = listed;
                let first = !self.listed;
                self.listed = true;
                first || changed
            }
            watcher::Event::Apply((ns, name)) => {
                let names = self.live.entry(ns).or_default();
                let new_namespace = names.is_empty();
                names.insert(name);
                self.listed && new_namespace
            }
            watcher::Event::Delete((ns, name)) => {
                let Some(names) = self.live.get_mut(&ns) else { return false };
                names.remove(&name);
                let gone = names.is_empty();
                if gone {
                    self.live.remove(&ns);
                }
                self.listed && gone
            }
        }
    }

    /// Namespaces holding at least one project.
    pub(crate) fn namespaces(&self) -> BTreeSet<String> {
        self.live.keys().cloned().collect()
    }

    /// Whether a first complete listing has been seen.
    pub(crate) fn listed(&self) -> bool {
        self.listed
    }
}

fn key(project: &PartialObjectMeta<SupabaseProject>) -> Key {
    (project.namespace().unwrap_or_default(), project.name_any())
}

fn keyed(event: watcher::Event<PartialObjectMeta<SupabaseProject>>) -> watcher::Event<Key> {
    match event {
        watcher::Event::Apply(p) => watcher::Event::Apply(key(&p)),
        watcher::Event::Delete(p) => watcher::Event::Delete(key(&p)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(p) => watcher::Event::InitApply(key(&p)),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// How far the cache has come since the start.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The projects have been listed once.
    pub(crate) listed: AtomicBool,
    /// ... and every namespace watched at that point has synced (or stopped being watched).
    pub(crate) ready: AtomicBool,
}

/// Watches the cluster's projects until `stop`, keeping `watches` on the namespaces
/// that hold one.
pub(crate) fn follow(client: Client, watches: Arc<Watches>, progress: Arc<Progress>, stop: CancellationToken) {
    let api: Api<PartialObjectMeta<SupabaseProject>> = Api::all(client);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut index = Index::default();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => break,
                event = stream.next() => event,
            };
            let event = match event {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "SupabaseProject watch interrupted; retrying");
                    continue;
                }
                Some(Ok(event)) => event,
            };
            let first = !index.listed();
            if !index.apply(keyed(event)) {
                continue;
            }
            watches.follow(&index.namespaces());
            if first {
                tracing::info!(namespaces = index.namespaces().len(), "SupabaseProjects listed");
                progress.listed.store(true, Ordering::Release);
                let stores = watches.stores();
                let progress = progress.clone();
                tokio::spawn(async move {
                    // A store whose watch was stopped before it synced answers with an
                    // error: nothing to wait for there.
                    futures::future::join_all(stores.iter().map(|s| s.wait_until_ready())).await;
                    progress.ready.store(true, Ordering::Release);
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use watcher::Event;

    fn p(ns: &str, name: &str) -> Key {
        (ns.to_string(), name.to_string())
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn namespaces_follow_their_first_and_last_project() {
        let mut index = Index::default();
        assert!(!index.apply(Event::Init));
        assert!(!index.apply(Event::InitApply(p("a", "one"))));
        assert!(!index.listed(), "nothing is known before the listing is complete");
        assert!(index.apply(Event::InitDone), "the first listing starts the watches, even of no namespace");
        assert_eq!(index.namespaces(), set(&["a"]));

        assert!(!index.apply(Event::Apply(p("a", "two"))), "a second project in a watched namespace");
        assert!(!index.apply(Event::Apply(p("a", "two"))), "a status write of a known project");
        assert!(index.apply(Event::Apply(p("b", "one"))));
        assert_eq!(index.namespaces(), set(&["a", "b"]));
        assert!(!index.apply(Event::Delete(p("a", "one"))), "a still holds two");
        assert!(index.apply(Event::Delete(p("a", "two"))));
        assert_eq!(index.namespaces(), set(&["b"]));
        assert!(!index.apply(Event::Delete(p("c", "never-seen"))));
    }

    #[test]
    fn a_relist_replaces_the_index_only_when_complete() {
        let mut index = Index::default();
        index.apply(Event::Init);
        index.apply(Event::InitApply(p("a", "one")));
        index.apply(Event::InitApply(p("b", "one")));
        index.apply(Event::InitDone);
        // The watch restarts; meanwhile "a"'s project was deleted.
        assert!(!index.apply(Event::Init));
        assert!(!index.apply(Event::InitApply(p("b", "one"))));
        assert_eq!(index.namespaces(), set(&["a", "b"]), "namespaces stay watched while the relist runs");
        assert!(index.apply(Event::InitDone));
        assert_eq!(index.namespaces(), set(&["b"]));
        index.apply(Event::Init);
        index.apply(Event::InitApply(p("b", "one")));
        assert!(!index.apply(Event::InitDone), "an unchanged relist changes nothing");
    }
}

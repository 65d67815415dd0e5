//! The HTTPRoute watch, for clusters that may not serve HTTPRoutes. A watch of a kind the
//! apiserver does not know fails on every attempt, and a cache that never lists would
//! hold every reconcile back; so this stream first waits, polling discovery, until the
//! Gateway API CRDs are installed, and only then watches. The reconciler starts, and
//! reconciles every project, whether or not they ever are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};

use crate::cache::{Touched, namespaced, strip};
use crate::http_route::HttpRoute;

/// How often discovery is asked whether HTTPRoutes are served, until they are. A project
/// that asks for an HTTPRoute meanwhile is looked at again as often (see `reconcile`).
pub const POLL: Duration = Duration::from_secs(30);

/// The trigger stream of HTTPRoutes' metadata: nothing until the cluster serves them,
/// then their watch, storing every event in `writer`; `listed` turns true with the
/// first complete list.
pub fn stream(
    client: kube::Client,
    ns: Option<String>,
    config: watcher::Config,
    writer: Writer<PartialObjectMeta<HttpRoute>>,
    listed: Arc<AtomicBool>,
) -> Touched<PartialObjectMeta<HttpRoute>> {
    futures::stream::once(async move {
        loop {
            match crate::gateway::served(&client).await {
                Ok(true) => break,
                Ok(false) => tracing::debug!("HTTPRoutes not served yet; the HTTPRoute watch waits"),
                Err(e) => tracing::debug!(error = %e, "discovery of HTTPRoutes failed"),
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::info!("the cluster serves HTTPRoutes; watching them");
        let api = namespaced::<PartialObjectMeta<HttpRoute>>(&client, ns.as_deref());
        watcher(api, config)
            .modify(strip)
            .reflect(writer)
            // After `reflect`: the store swaps the listed objects in on `InitDone`.
            .inspect(move |e| {
                if matches!(e, Ok(watcher::Event::InitDone)) {
                    listed.store(true, Ordering::Release);
                }
            })
            .touched_objects()
    })
    .flatten()
    .boxed()
}

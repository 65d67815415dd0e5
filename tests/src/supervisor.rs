//! A supervisor for in-process reconcilers, as the kubelet is for a container: when
//! `reconciler::run` returns because the Lease was lost (the process would exit), it is
//! started again with a fresh client. Each run's client records every write it sends,
//! so a drill can check that no run wrote after its renew deadline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reconciler::Config;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::writes::{Recorder, fenced};

/// Longest gap allowed between a write's leadership check (`Leadership::is_leader`,
/// measured from when the elector recorded the renewal) and the write entering the
/// recording layer, beyond the renew deadline. The recorded renewal instant is the
/// answer's arrival at the layer, a little before the elector records it; between the
/// check and the send there is only synchronous code and one object's serialization
/// (well under a millisecond when idle). On a busy 2-core machine either gap can grow by
/// a few scheduler delays (tens of ms each); 1 s is ten times more. It must stay well
/// below `lease_duration - renew_deadline`, the slack that keeps a late write from racing
/// a new leader: [`Supervisor::start`] checks that.
pub const SEND_MARGIN: Duration = Duration::from_secs(1);

/// One run of `reconciler::run`: its writes, and how it ended.
#[derive(Debug)]
pub struct Incarnation {
    /// Every write its client sent.
    pub recorder: Recorder,
    /// What `run` returned.
    pub ended: Result<(), reconciler::Error>,
}

/// Runs a reconciler and restarts it whenever it loses its Lease, until stopped.
#[derive(Debug)]
pub struct Supervisor {
    shutdown: CancellationToken,
    recorders: Arc<Mutex<Vec<Recorder>>>,
    handle: JoinHandle<Vec<Incarnation>>,
}

impl Supervisor {
    /// Starts the first run. Each run's client is production's configuration
    /// (`reconciler::leader::client_config` of `base`) plus a recording layer.
    pub fn start(base: kube::Config, config: Config) -> Supervisor {
        let lease = &config.lease;
        assert!(SEND_MARGIN * 2 <= lease.lease_duration - lease.renew_deadline, "SEND_MARGIN too large for {lease:?}");
        let shutdown = CancellationToken::new();
        let recorders = Arc::new(Mutex::new(Vec::new()));
        let handle = tokio::spawn(supervise(base, config, shutdown.clone(), recorders.clone()));
        Supervisor { shutdown, recorders, handle }
    }

    /// The recorder of run `i` (0 is the first), once it started.
    pub fn recorder(&self, i: usize) -> Option<Recorder> {
        self.recorders.lock().expect("recorders").get(i).cloned()
    }

    /// How many times the reconciler was restarted so far.
    pub fn restarts(&self) -> usize {
        self.recorders.lock().expect("recorders").len().saturating_sub(1)
    }

    /// Whether the supervisor gave up (a run ended otherwise than by losing its Lease).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Graceful stop of the current run; returns every run.
    pub async fn stop(self) -> Vec<Incarnation> {
        self.shutdown.cancel();
        tokio::time::timeout(crate::patience::settle(), self.handle).await.expect("the reconciler stops").expect("join")
    }
}

async fn supervise(
    base: kube::Config,
    config: Config,
    shutdown: CancellationToken,
    recorders: Arc<Mutex<Vec<Recorder>>>,
) -> Vec<Incarnation> {
    let mut lives = Vec::new();
    loop {
        let recorder = Recorder::default();
        recorders.lock().expect("recorders").push(recorder.clone());
        let client = kube::client::ClientBuilder::try_from(reconciler::leader::client_config(base.clone()))
            .expect("client")
            .with_layer(&recorder)
            .build();
        let ended = reconciler::run(config.clone(), client, shutdown.clone()).await;
        // Restarted at once: the kubelet's crash-loop backoff would only slow the drill.
        let restart = matches!(ended, Err(reconciler::Error::LostLeadership(_))) && !shutdown.is_cancelled();
        if restart {
            eprintln!("supervisor: the reconciler exited ({:?}); restart #{}", ended.as_ref().err(), lives.len() + 1);
        }
        lives.push(Incarnation { recorder, ended });
        if !restart {
            return lives;
        }
    }
}

/// Asserts that every run but the last ended by losing its Lease and the last by the
/// stop, and that no run wrote (other than to the Lease) more than the renew deadline
/// plus [`SEND_MARGIN`] after its last successful renewal. Prints each run's figures.
pub fn assert_fenced(lives: &[Incarnation], renew_deadline: Duration) {
    let (last, earlier) = lives.split_last().expect("at least one run");
    let limit = renew_deadline + SEND_MARGIN;
    for (i, life) in lives.iter().enumerate() {
        let writes = life.recorder.writes();
        let (late, longest) = fenced(&writes, limit);
        let leases = writes.iter().filter(|w| w.is_lease()).count();
        eprintln!(
            "supervisor: run {i} ({:?}): {} writes, {leases} to the Lease; longest from a renewal to a write \
             {:.2} s (limit {limit:?})",
            life.ended.as_ref().err(),
            writes.len(),
            longest.as_secs_f64()
        );
        assert!(late.is_empty(), "run {i} wrote after its renew deadline: {late:#?}");
    }
    assert!(matches!(last.ended, Ok(())), "the last run ended with {:?}", last.ended);
    for life in earlier {
        assert!(matches!(life.ended, Err(reconciler::Error::LostLeadership(_))), "{:?}", life.ended);
    }
}

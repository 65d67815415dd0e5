//! Rule 11's question to the apiserver: may this user `get` this Secret? Answers are
//! cached briefly per (user, groups, uid, extra, namespace, Secret) as the apiserver's
//! own webhook authorizer does: allowed longer than denied, so a new grant takes effect
//! soon while repeated applies do not pay a round trip each.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::lookup::describe;
use crate::validate::Access;

/// How long one SubjectAccessReview may take.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(3);
/// Cached answers beyond which expired ones are dropped.
const MAX_CACHED: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    user: String,
    groups: Vec<String>,
    uid: String,
    extra: Vec<(String, Vec<String>)>,
    namespace: String,
    secret: String,
}

/// Asks (and remembers) whether users may read Secrets.
pub struct AccessChecker {
    client: Client,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    cache: Mutex<HashMap<Key, (Access, Instant)>>,
}

impl std::fmt::Debug for AccessChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessChecker")
            .field("allowed_ttl", &self.allowed_ttl)
            .field("denied_ttl", &self.denied_ttl)
            .finish()
    }
}

impl AccessChecker {
    /// A checker with the given cache lifetimes.
    pub fn new(client: Client, allowed_ttl: Duration, denied_ttl: Duration) -> AccessChecker {
        AccessChecker { client, allowed_ttl, denied_ttl, cache: Mutex::new(HashMap::new()) }
    }

    fn key(user: &UserInfo, namespace: &str, secret: &str) -> Key {
        let mut groups = user.groups.clone().unwrap_or_default();
        groups.sort();
        let extra: BTreeMap<_, _> = user.extra.clone().unwrap_or_default().into_iter().collect();
        Key {
            user: user.username.clone().unwrap_or_default(),
            groups,
            uid: user.uid.clone().unwrap_or_default(),
            extra: extra.into_iter().collect(),
            namespace: namespace.to_string(),
            secret: secret.to_string(),
        }
    }

    /// Whether `user` may get each of `secrets` in `namespace`. The user's part of the
    /// cache key is built once and the cache locked once for all of them; only the
    /// misses go to the apiserver (concurrently).
    pub async fn check_all(&self, user: &UserInfo, namespace: &str, secrets: &[String]) -> BTreeMap<String, Access> {
        let mut answers = BTreeMap::new();
        let mut misses = Vec::new();
        if let Ok(cache) = self.cache.lock() {
            let now = Instant::now();
            let mut key = AccessChecker::key(user, namespace, "");
            for secret in secrets {
                key.secret.clone_from(secret);
                match cache.get(&key) {
                    Some((answer, expires)) if *expires > now => {
                        answers.insert(secret.clone(), answer.clone());
                    }
                    _ => misses.push(secret),
                }
            }
        } else {
            misses.extend(secrets);
        }
        let asked = misses.into_iter().map(|s| async move { (s.clone(), self.check(user, namespace, s).await) });
        answers.extend(futures::future::join_all(asked).await);
        answers
    }

    /// Whether `user` may get Secret `secret` in `namespace`.
    pub async fn check(&self, user: &UserInfo, namespace: &str, secret: &str) -> Access {
        let key = AccessChecker::key(user, namespace, secret);
        if let Ok(cache) = self.cache.lock()
            && let Some((answer, expires)) = cache.get(&key)
            && *expires > Instant::now()
        {
            return answer.clone();
        }
        let answer = self.ask(user, namespace, secret).await;
        let ttl = match answer {
            Access::Allowed => Some(self.allowed_ttl),
            Access::Denied(_) => Some(self.denied_ttl),
            Access::Unknown(_) => None,
        };
        if let (Some(ttl), Ok(mut cache)) = (ttl, self.cache.lock()) {
            let now = Instant::now();
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (_, expires)| *expires > now);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(key, (answer.clone(), now + ttl));
        }
        answer
    }

    async fn ask(&self, user: &UserInfo, namespace: &str, secret: &str) -> Access {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups.clone(),
                uid: user.uid.clone(),
                extra: user.extra.clone().map(|e| e.into_iter().collect()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_string()),
                    verb: Some("get".into()),
                    group: Some(String::new()),
                    version: Some("v1".into()),
                    resource: Some("secrets".into()),
                    name: Some(secret.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        match tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), &review)).await {
            Ok(Ok(answer)) => match answer.status {
                Some(s) if s.allowed => Access::Allowed,
                Some(s) => Access::Denied(s.reason.unwrap_or_default()),
                None => Access::Unknown("the SubjectAccessReview came back without a status".into()),
            },
            Ok(Err(e)) => Access::Unknown(describe(&e)),
            Err(_) => Access::Unknown(format!("no answer within {} s", REVIEW_TIMEOUT.as_secs())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            username: Some(name.into()),
            groups: Some(groups.iter().map(|g| g.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_keyed_by_everything_that_can_change_them() {
        let k = |u: &UserInfo, ns: &str, s: &str| AccessChecker::key(u, ns, s);
        let alice = user("alice", &["dev", "ops"]);
        assert_eq!(k(&alice, "ns", "db"), k(&user("alice", &["ops", "dev"]), "ns", "db"), "group order is irrelevant");
        assert_ne!(k(&alice, "ns", "db"), k(&user("alice", &["dev"]), "ns", "db"));
        assert_ne!(k(&alice, "ns", "db"), k(&user("bob", &["dev", "ops"]), "ns", "db"));
        assert_ne!(k(&alice, "ns", "db"), k(&alice, "other", "db"));
        assert_ne!(k(&alice, "ns", "db"), k(&alice, "ns", "jwt"));
        let mut with_extra = alice.clone();
        with_extra.extra = Some([("scopes".to_string(), vec!["read".to_string()])].into_iter().collect());
        assert_ne!(k(&alice, "ns", "db"), k(&with_extra, "ns", "db"));
    }
}

//! Projects the tests render: one that references a user Secret for everything and turns
//! every option on, and the smallest one (generated secrets, file storage, no Studio).

use crds::{SupabaseProject, SupabaseProjectSpec};

/// Builds a defaulted project named `demo` in namespace `ns` from a spec in YAML.
pub(super) fn project(spec_yaml: &str) -> SupabaseProject {
    let spec: SupabaseProjectSpec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let mut p = SupabaseProject::new("demo", crds::defaults(spec));
    p.metadata.namespace = Some("ns".into());
    p.metadata.uid = Some("0b5c1f5e-1111-2222-3333-444455556666".into());
    p
}

/// The smallest spec: generated JWT and internal secrets, file storage, Studio off.
pub(super) fn minimal() -> SupabaseProject {
    project("apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\n")
}

/// Everything from user Secrets with overridden key names, S3, SMTP, Studio with a
/// dashboard, and extra settings on every workload.
pub(super) const FULL: &str = r#"
apiExternalUrl: https://api.demo.example.com
siteUrl: https://app.demo.example.com
database:
  secretRef: {name: demo-db, hostKey: h, portKey: p, databaseKey: d, passwordKey: pw}
  sslMode: require
storage:
  backend: s3
  fileSizeLimit: 1000
  s3:
    bucket: demo-bucket
    region: eu-west-1
    endpoint: https://minio.example.com
    secretRef: {name: demo-s3, accessKeyIdKey: id, secretAccessKeyKey: sk}
jwt:
  secretRef: {name: demo-jwt-user, secretKey: s, anonKeyKey: a, serviceKeyKey: k}
  expirySeconds: 7200
smtp:
  host: smtp.example.com
  port: 2525
  sender: no-reply@example.com
  senderName: Demo
  secretRef: {name: demo-smtp, usernameKey: u, passwordKey: pw}
dashboard:
  secretRef: {name: demo-dash, usernameKey: u, passwordKey: pw}
components:
  kong:
    replicas: 2
    image: registry.example.com/kong:3.9.1
    env: [{name: KONG_LOG_LEVEL, value: debug}]
    nodeSelector: {pool: edge}
    tolerations: [{key: edge, operator: Exists, effect: NoSchedule}]
    resources: {limits: {cpu: "1", memory: 1Gi}, requests: {cpu: 200m, memory: 512Mi}}
  auth:
    disableSignup: true
    enableEmailSignup: false
    enableEmailAutoconfirm: true
    enableAnonymousUsers: true
    additionalRedirectUrls: [https://a.example.com, https://b.example.com]
  rest:
    schemas: [public, api]
    maxRows: 50
  realtime:
    secretRef: {name: demo-rt, secretKeyBaseKey: skb, dbEncKeyKey: enc}
  meta:
    secretRef: {name: demo-meta, cryptoKeyKey: ck}
  studio:
    enabled: true
    organization: Acme
    project: Demo
    aiSecretRef: {name: demo-ai}
"#;

pub(super) fn full() -> SupabaseProject {
    project(FULL)
}

/// The smallest spec with Supabase's new keys, generated.
pub(super) fn minimal_new_keys() -> SupabaseProject {
    project("apiExternalUrl: https://api.demo.example.com\ndatabase: {secretRef: {name: demo-db}}\njwt: {keys: both}\n")
}

/// [`FULL`] with the new keys from user Secrets: signing keys with a named signer, and the
/// API keys.
pub(super) fn full_new_keys() -> SupabaseProject {
    project(&FULL.replace(
        "  expirySeconds: 7200\n",
        "  expirySeconds: 7200\n  keys: both\n  signingKeyId: 5f1c6a3e-0000-4000-8000-000000000001\n  \
         signingKeysRef: {name: demo-signing, keysKey: private}\n  apiKeysRef: {name: demo-api}\n",
    ))
}

/// Database host, port and name written literally in the spec (the password stays in
/// the Secret), with characters a URL must escape.
pub(super) fn literal_db() -> SupabaseProject {
    project(
        "apiExternalUrl: https://api.demo.example.com\ndatabase:\n  host: pg-rw.db.svc\n  port: 6543\n  \
         name: my db/1\n  secretRef: {name: demo-db}\n",
    )
}

/// `p` with imgproxy enabled (and, for the file backend, Storage's default claim, which
/// admission requires with imgproxy).
pub(super) fn with_imgproxy(mut p: SupabaseProject) -> SupabaseProject {
    if let Some(c) = p.spec.components.as_mut().and_then(|c| c.imgproxy.as_mut()) {
        c.enabled = Some(true);
    }
    if let Some(s) = p.spec.storage.as_mut()
        && s.backend == Some(crds::project::StorageBackend::File)
        && s.volume.is_none()
    {
        s.volume = Some(Default::default());
    }
    p.spec = crds::defaults(p.spec);
    p
}

//! Malformed and unusual requests through the running TLS server: each gets a clear
//! answer naming the problem, with the uid when the body had one, and the server keeps
//! serving. These need no cluster: the server's client points nowhere, which is also how
//! "the apiserver cannot answer" is tested.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bytes::Bytes;
use harness::webhook::{self, Conn, TestWebhook, review};
use http_body_util::Full;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server() -> TestWebhook {
    webhook::start(webhook::offline_client(), &["--max-body-bytes", "65536", "--request-deadline-ms", "3000"]).await
}

fn project(name: &str) -> Value {
    json!({
        "apiVersion": "supabase-operator.io/v1alpha1",
        "kind": "SupabaseProject",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"apiExternalUrl": "https://api.example.com", "database": {"secretRef": {"name": "db"}}}
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

struct Case {
    what: &'static str,
    path: &'static str,
    body: Vec<u8>,
    status: u16,
    uid: &'static str,
    says: &'static str,
}

#[tokio::test]
async fn malformed_reviews_get_a_clear_answer_with_the_uid() {
    let server = server().await;
    let mut beta = review("u-beta", "CREATE", project("p"), None);
    beta["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let mut no_request = review("u", "CREATE", project("p"), None);
    no_request.as_object_mut().unwrap().remove("request");
    let mut no_uid = review("u", "CREATE", project("p"), None);
    no_uid["request"].as_object_mut().unwrap().remove("uid");
    let null_object = review("u-null", "CREATE", Value::Null, None);
    let mut deployment = review("u-deploy", "CREATE", project("p"), None);
    deployment["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    let mut pod_object = review("u-pod", "CREATE", project("p"), None);
    pod_object["request"]["object"] = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let mut bad_operation = review("u-op", "CREATE", project("p"), None);
    bad_operation["request"]["operation"] = json!("EXPLODE");
    let no_old = review("u-old", "UPDATE", project("p"), None);
    let mut spec_not_object = review("u-spec", "CREATE", project("p"), None);
    spec_not_object["request"]["object"]["spec"] = json!("a string");

    let cases = vec![
        Case { what: "empty body", path: "/validate", body: vec![], status: 400, uid: "", says: "body is empty" },
        Case {
            what: "invalid JSON",
            path: "/validate",
            body: b"{\"apiVersion\":".to_vec(),
            status: 400,
            uid: "",
            says: "not valid JSON",
        },
        Case {
            what: "JSON array",
            path: "/mutate",
            body: b"[1,2]".to_vec(),
            status: 400,
            uid: "",
            says: "is an array",
        },
        Case {
            what: "JSON of the wrong kind",
            path: "/validate",
            body: bytes(&json!({"apiVersion": "v1", "kind": "Pod"})),
            status: 400,
            uid: "",
            says: "expected \"AdmissionReview\"",
        },
        Case {
            what: "v1beta1 review",
            path: "/validate",
            body: bytes(&beta),
            status: 400,
            uid: "u-beta",
            says: "admissionReviewVersions",
        },
        Case {
            what: "missing request",
            path: "/validate",
            body: bytes(&no_request),
            status: 400,
            uid: "",
            says: "has no request",
        },
        Case {
            what: "missing uid",
            path: "/mutate",
            body: bytes(&no_uid),
            status: 400,
            uid: "",
            says: "request.uid is missing",
        },
        Case {
            what: "null object",
            path: "/validate",
            body: bytes(&null_object),
            status: 400,
            uid: "u-null",
            says: "request.object is missing",
        },
        Case {
            what: "review of another kind",
            path: "/validate",
            body: bytes(&deployment),
            status: 400,
            uid: "u-deploy",
            says: "not apps/Deployment",
        },
        Case {
            what: "object of another kind",
            path: "/mutate",
            body: bytes(&pod_object),
            status: 400,
            uid: "u-pod",
            says: "is a v1 Pod",
        },
        Case {
            what: "unknown operation",
            path: "/validate",
            body: bytes(&bad_operation),
            status: 400,
            uid: "u-op",
            says: "malformed",
        },
        Case {
            what: "UPDATE without oldObject",
            path: "/validate",
            body: bytes(&no_old),
            status: 400,
            uid: "u-old",
            says: "oldObject",
        },
        Case {
            what: "deeply nested JSON",
            path: "/validate",
            body: "[".repeat(50_000).into_bytes(),
            status: 400,
            uid: "",
            says: "recursion limit",
        },
        Case {
            what: "oversize body",
            path: "/validate",
            body: vec![b' '; 100_000],
            status: 413,
            uid: "",
            says: "larger than the limit of 65536 bytes",
        },
        Case {
            what: "spec of the wrong type",
            path: "/validate",
            body: bytes(&spec_not_object),
            status: 200,
            uid: "u-spec",
            says: "does not match the schema",
        },
    ];
    // One keep-alive connection for the cases the server can answer without closing it;
    // after a body it refused to read (oversize), the connection is closed, so each case
    // opens its own.
    let mut conn = Conn::open(server.running.tls_addr, &server.ca.pem(), false).await;
    for case in cases {
        let answer = webhook::post(server.running.tls_addr, &server.ca.pem(), case.path, case.body.clone()).await;
        if case.status != 413 {
            let again = conn.post(case.path, case.body).await;
            assert_eq!(again.body, answer.body, "{}: same answer on a keep-alive connection", case.what);
        }
        assert_eq!(answer.status, case.status, "{}: {}", case.what, answer.text());
        assert_eq!(answer.content_type, "application/json", "{}", case.what);
        let review = answer.json();
        assert_eq!(review["kind"], "AdmissionReview", "{}", case.what);
        assert_eq!(review["response"]["allowed"], false, "{}", case.what);
        assert_eq!(review["response"]["uid"], case.uid, "{}", case.what);
        let message = review["response"]["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.says), "{}: {message:?} lacks {:?}", case.what, case.says);
    }
    // Still serving on the same keep-alive connection after all of that.
    let ok = conn.post("/mutate", bytes(&review("u-ok", "CREATE", project("p"), None))).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["response"]["allowed"], true);
    let metrics = webhook::health_get(server.running.health_addr, "/metrics").await.text();
    // 11 malformed /validate cases, each sent twice but the oversize one; 3 /mutate ones.
    assert!(
        metrics.contains(r#"supabase_webhook_requests_total{endpoint="/validate",result="malformed"} 21"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"supabase_webhook_requests_total{endpoint="/mutate",result="malformed"} 6"#),
        "{metrics}"
    );
    server.running.shutdown().await;
}

#[tokio::test]
async fn wrong_method_content_type_and_path_are_named() {
    let server = server().await;
    let mut conn = Conn::open(server.running.tls_addr, &server.ca.pem(), false).await;
    let get =
        http::Request::get("https://127.0.0.1/validate").header("host", "x").body(Full::new(Bytes::new())).unwrap();
    let answer = conn.send(get).await.unwrap();
    assert_eq!(answer.status, 405);
    assert!(answer.json()["response"]["status"]["message"].as_str().unwrap().contains("method GET is not allowed"));

    let text = http::Request::post("https://127.0.0.1/validate")
        .header("host", "x")
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let answer = conn.send(text).await.unwrap();
    assert_eq!(answer.status, 415);
    assert!(answer.text().contains("content type \\\"text/plain\\\" is not supported"), "{}", answer.text());

    let answer = conn.post("/admit", b"{}".to_vec()).await;
    assert_eq!(answer.status, 404);
    assert!(answer.text().contains("POST /mutate and POST /validate"), "{}", answer.text());
    server.running.shutdown().await;
}

#[tokio::test]
async fn delete_and_dry_run_reviews_are_answered() {
    let server = server().await;
    let mut delete = review("u-del", "DELETE", Value::Null, Some(project("p")));
    delete["request"]["object"] = Value::Null;
    for path in ["/mutate", "/validate"] {
        let answer = webhook::post(server.running.tls_addr, &server.ca.pem(), path, bytes(&delete)).await;
        let r = answer.json();
        assert_eq!(
            (answer.status, &r["response"]["allowed"], &r["response"]["uid"]),
            (200, &json!(true), &json!("u-del"))
        );
        assert!(r["response"].get("patch").is_none(), "{r}");
    }
    // Defaulting is the same with dryRun: the patch fills every default.
    let mut dry = review("u-dry", "CREATE", project("p"), None);
    dry["request"]["dryRun"] = json!(true);
    let wet = review("u-dry", "CREATE", project("p"), None);
    let a = webhook::post(server.running.tls_addr, &server.ca.pem(), "/mutate", bytes(&dry)).await.json();
    let b = webhook::post(server.running.tls_addr, &server.ca.pem(), "/mutate", bytes(&wet)).await.json();
    assert_eq!(a, b);
    assert_eq!(a["response"]["patchType"], "JSONPatch");
    use base64::Engine;
    let patch = base64::engine::general_purpose::STANDARD.decode(a["response"]["patch"].as_str().unwrap()).unwrap();
    let mut object = project("p");
    let patch: json_patch_like::Ops = serde_json::from_slice(&patch).unwrap();
    json_patch_like::apply(&mut object, &patch);
    assert_eq!(object["spec"]["components"]["rest"]["image"], "postgrest/postgrest:v14.17");
    server.running.shutdown().await;
}

/// Just enough RFC 6902 `add` to apply the webhook's patch independently of the crate
/// that produced it.
mod json_patch_like {
    use serde_json::Value;

    #[derive(serde::Deserialize)]
    pub struct Op {
        op: String,
        path: String,
        value: Value,
    }
    pub type Ops = Vec<Op>;

    pub fn apply(doc: &mut Value, ops: &Ops) {
        for op in ops {
            assert_eq!(op.op, "add", "defaulting only adds");
            let parts: Vec<String> =
                op.path.split('/').skip(1).map(|p| p.replace("~1", "/").replace("~0", "~")).collect();
            let (last, parents) = parts.split_last().unwrap();
            let mut at = &mut *doc;
            for p in parents {
                at = at.get_mut(p.as_str()).unwrap_or_else(|| panic!("no parent {p} for {}", op.path));
            }
            at.as_object_mut().unwrap().insert(last.clone(), op.value.clone());
        }
    }
}

#[tokio::test]
async fn an_unreachable_apiserver_is_a_retryable_denial() {
    let server = server().await;
    let answer = webhook::post(
        server.running.tls_addr,
        &server.ca.pem(),
        "/validate",
        bytes(&review("u-1", "CREATE", project("p"), None)),
    )
    .await;
    assert_eq!(answer.status, 200);
    let r = answer.json();
    assert_eq!(r["response"]["allowed"], false);
    assert_eq!(r["response"]["uid"], "u-1");
    assert_eq!(r["response"]["status"]["code"], 503);
    let message = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not be checked (worth retrying)")
            && message.contains("Secret \"db\" could not be read"),
        "{message}"
    );
    server.running.shutdown().await;
}

#[tokio::test]
async fn http2_is_negotiated_and_served() {
    let server = server().await;
    let mut conn = Conn::open(server.running.tls_addr, &server.ca.pem(), true).await;
    assert!(matches!(conn, Conn::H2(_)));
    let a = conn.post("/mutate", bytes(&review("u-h2", "CREATE", project("p"), None))).await;
    assert_eq!((a.status, a.json()["response"]["uid"].as_str()), (200, Some("u-h2")));
    server.running.shutdown().await;
}

#[tokio::test]
async fn plain_http_and_garbage_on_the_tls_port_get_no_crash() {
    let server = server().await;
    let mut tcp = tokio::net::TcpStream::connect(server.running.tls_addr).await.unwrap();
    tcp.write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").await.unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.0 400 Bad Request"), "{reply}");
    assert!(reply.contains("Client sent an HTTP request to an HTTPS server."), "{reply}");

    let mut tcp = tokio::net::TcpStream::connect(server.running.tls_addr).await.unwrap();
    tcp.write_all(&[0x00, 0xff, 0x13, 0x37]).await.unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "garbage got an answer: {rest:?}");
    // A TLS record that is not a valid ClientHello.
    let mut tcp = tokio::net::TcpStream::connect(server.running.tls_addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]).await.unwrap();
    let _ = tcp.read_to_end(&mut rest).await;

    let ok = webhook::post(
        server.running.tls_addr,
        &server.ca.pem(),
        "/mutate",
        bytes(&review("u", "CREATE", project("p"), None)),
    )
    .await;
    assert_eq!(ok.status, 200, "still serving");
    server.running.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_sends_its_headers_is_cut_off() {
    let timeout = std::time::Duration::from_millis(300);
    let server =
        webhook::start(webhook::offline_client(), &["--header-read-timeout-ms", &timeout.as_millis().to_string()])
            .await;
    let tls = webhook::connect(server.running.tls_addr, webhook::client_config(&server.ca.pem(), &[b"http/1.1"]))
        .await
        .unwrap();
    let (mut read, mut write) = tokio::io::split(tls);
    write.write_all(b"POST /validate HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    // Without the timeout the server would wait for the headers for ever.
    let bound = harness::patience::after(timeout);
    let _ = tokio::time::timeout(bound * 2, read.read_to_end(&mut rest)).await;
    let waited = started.elapsed();
    assert!(waited < bound, "connection held for {waited:?}");
    server.running.shutdown().await;
}

#[tokio::test]
async fn a_silent_apiserver_hits_the_deadline_and_extra_reviews_wait_for_a_slot() {
    let (client, holder) = webhook::silent_client().await;
    // Long enough that the second review arrives while the first holds the slot, however
    // slow the machine's handshakes; the apiserver itself never answers.
    let deadline = std::time::Duration::from_secs(2);
    let deadline_ms = deadline.as_millis().to_string();
    let server = webhook::start(client, &["--request-deadline-ms", &deadline_ms, "--max-concurrency", "1"]).await;
    let (addr, ca) = (server.running.tls_addr, server.ca.pem());
    let started = std::time::Instant::now();
    let send = |uid: &'static str| {
        let ca = ca.clone();
        async move { webhook::post(addr, &ca, "/validate", bytes(&review(uid, "CREATE", project("p"), None))).await }
    };
    // The second arrives while the first holds the only slot; it may wait half its
    // deadline for it.
    let second_later = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        send("second").await
    };
    let (first, second) = tokio::join!(send("first"), second_later);
    let elapsed = started.elapsed();
    // Without the deadline the reviews would wait for the client's own timeout (minutes).
    assert!(elapsed < harness::patience::after(deadline), "answers took {elapsed:?}");
    let mut messages = Vec::new();
    for answer in [first, second] {
        assert_eq!(answer.status, 200);
        let r = answer.json();
        assert_eq!(r["response"]["allowed"], false);
        assert_eq!(r["response"]["status"]["code"], 503);
        messages.push(r["response"]["status"]["message"].as_str().unwrap().to_string());
    }
    // Whichever got to the slot first (the other was sent 100 ms later, but a busy
    // machine may reorder them) hit the deadline; the other found the webhook busy.
    messages.sort_by_key(|m| !m.contains("did not finish"));
    assert!(messages[0].contains(&format!("did not finish within {deadline_ms} ms")), "{messages:?}");
    assert!(messages[1].contains("the webhook is busy"), "{messages:?}");
    assert!(messages.iter().all(|m| m.contains("worth retrying")), "{messages:?}");
    // Defaulting needs no apiserver and still answers at once.
    let ok = webhook::post(addr, &ca, "/mutate", bytes(&review("m", "CREATE", project("p"), None))).await;
    assert_eq!(ok.json()["response"]["allowed"], true);
    server.running.shutdown().await;
    holder.abort();
}

//! The registry harness against a real client: skopeo pushes to and reads
//! from each set-up of the real `docker-registry`, through the token server
//! and the fault proxy; raw HTTP checks what skopeo cannot show (chunked
//! uploads, keep-alive, each fault's shape on the wire).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use slipway_testkit::registry::{
    Auth, Credentials, FaultKind, FaultProxy, Faults, RegistryConfig, RequestKind, TestImage,
    TestRegistry, TokenConfig, write_test_layout,
};
use slipway_testkit::require;

fn skopeo(args: &[String]) -> Output {
    let tool = require("skopeo", "skopeo");
    Command::new(tool)
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("running skopeo")
}

fn ok(out: Output, what: &str, reg: Option<&TestRegistry>) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\nregistry log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        reg.map(TestRegistry::log).unwrap_or_default()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `skopeo copy --all` of the layout's tag to `docker://host/repo_tag`.
fn push(image: &TestImage, host: &str, repo_tag: &str, dest_args: &[String]) -> Output {
    let mut args = strings(&["copy", "-q", "--all"]);
    args.extend(dest_args.iter().cloned());
    args.push(image.skopeo_ref());
    args.push(format!("docker://{host}/{repo_tag}"));
    skopeo(&args)
}

fn inspect_raw(host: &str, repo_tag: &str, src_args: &[String]) -> Output {
    let mut args = strings(&["inspect", "--raw"]);
    args.extend(src_args.iter().cloned());
    args.push(format!("docker://{host}/{repo_tag}"));
    skopeo(&args)
}

fn layout(dir: &Path, seed: u64) -> TestImage {
    write_test_layout(
        &dir.join("layout"),
        "v1",
        &["linux/amd64", "linux/arm64"],
        8 * 1024,
        seed,
    )
}

fn index_bytes(image: &TestImage) -> String {
    let hex = &image.index_digest["sha256:".len()..];
    std::fs::read_to_string(image.dir.join("blobs/sha256").join(hex)).unwrap()
}

#[test]
fn plain_registry_takes_a_push_and_serves_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 1);
    let reg = TestRegistry::plain();
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
    let raw = ok(
        inspect_raw(&reg.host(), "team/app:v1", &reg.skopeo_src_args()),
        "inspect",
        Some(&reg),
    );
    assert_eq!(
        raw,
        index_bytes(&image),
        "the registry changed the index bytes"
    );
    assert_eq!(
        reg.tag_digest("team/app", "v1"),
        Some(image.index_digest.clone())
    );
    assert_eq!(reg.tag_digest("team/app", "nope"), None);
    for (digest, size) in &image.blobs {
        let stored = std::fs::metadata(reg.blob_path(digest)).expect("blob stored");
        assert_eq!(stored.len(), *size);
    }
    assert!(
        reg.log().contains("PUT /v2/team/app/manifests/v1"),
        "log lacks the manifest PUT:\n{}",
        reg.log()
    );
}

#[test]
fn tls_registry_wants_the_test_ca_and_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 2);
    let reg = TestRegistry::tls_basic();
    assert!(reg.url().starts_with("https://"));
    let ca = std::fs::read_to_string(reg.ca_file().unwrap()).unwrap();
    assert!(ca.contains("BEGIN CERTIFICATE"));
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
    let raw = ok(
        inspect_raw(&reg.host(), "team/app:v1", &reg.skopeo_src_args()),
        "inspect",
        Some(&reg),
    );
    assert_eq!(raw, index_bytes(&image));

    let creds = reg.credentials().unwrap().clone();
    let cert_dir = format!("--cert-dir={}", reg.cert_dir().unwrap().display());

    // Right CA, wrong password.
    let wrong = format!("--creds={}:not-{}", creds.username, creds.password);
    let out = inspect_raw(&reg.host(), "team/app:v1", &[cert_dir.clone(), wrong]);
    assert!(!out.status.success(), "a wrong password was accepted");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("unauthorized") || err.contains("authentication required"),
        "{err}"
    );

    // Right CA, no credentials.
    let out = inspect_raw(&reg.host(), "team/app:v1", std::slice::from_ref(&cert_dir));
    assert!(!out.status.success(), "anonymous access was accepted");

    // Right password, without the test CA: the certificate is not trusted.
    let out = inspect_raw(
        &reg.host(),
        "team/app:v1",
        &[format!("--creds={}", creds.user_colon_password())],
    );
    assert!(!out.status.success(), "TLS verified without the test CA");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");

    // Plain HTTP to the TLS port is refused too.
    let (status, _, _) = Raw::connect(reg.addr())
        .request("GET", "/v2/", &[], Body::None)
        .unwrap();
    assert_eq!(status, 400, "plain HTTP to the TLS port");
}

#[test]
fn token_registry_issues_scoped_tokens_and_refuses_a_wrong_password() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 3);
    let reg = TestRegistry::token(TokenConfig::default());
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
    let raw = ok(
        inspect_raw(&reg.host(), "team/app:v1", &reg.skopeo_src_args()),
        "inspect",
        Some(&reg),
    );
    assert_eq!(raw, index_bytes(&image));

    let requests = reg.token_requests();
    assert!(!requests.is_empty());
    let user = reg.credentials().unwrap().username.clone();
    assert!(
        requests
            .iter()
            .all(|r| r.had_credentials && r.username.as_deref() == Some(user.as_str()))
    );
    assert!(
        requests
            .iter()
            .all(|r| r.service.as_deref() == Some(slipway_testkit::registry::SERVICE))
    );
    let push_req = requests
        .iter()
        .find(|r| {
            r.scopes
                .iter()
                .any(|s| s.starts_with("repository:team/app:") && s.contains("push"))
        })
        .unwrap_or_else(|| panic!("no push scope requested: {requests:?}"));
    assert_eq!(push_req.status, 200);
    assert!(
        push_req
            .granted
            .iter()
            .any(|a| a.name == "team/app" && a.actions.contains(&"push".to_string()))
    );

    // A wrong password: the token server says 401 and skopeo fails.
    let creds = reg.credentials().unwrap();
    let before = reg.token_requests().len();
    let bad = format!("--creds={}:wrong", creds.username);
    let out = inspect_raw(
        &reg.host(),
        "team/app:v1",
        &["--tls-verify=false".into(), bad],
    );
    assert!(!out.status.success(), "a wrong password was accepted");
    let after = reg.token_requests();
    assert!(
        after[before..]
            .iter()
            .any(|r| r.status == 401 && r.had_credentials),
        "{after:?}"
    );
    // The password is never recorded.
    assert!(!format!("{after:?}").contains(&creds.password));
    assert!(!format!("{creds:?}").contains(&creds.password));

    // No credentials and no anonymous pull: refused.
    let out = inspect_raw(&reg.host(), "team/app:v1", &["--tls-verify=false".into()]);
    assert!(!out.status.success(), "anonymous pull was accepted");
}

#[test]
fn tls_and_token_auth_combine() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 9);
    let reg = TestRegistry::start(RegistryConfig {
        tls: true,
        auth: Auth::Token(TokenConfig::default()),
    });
    assert!(reg.url().starts_with("https://") && reg.cert_dir().is_some());
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
    let raw = ok(
        inspect_raw(&reg.host(), "team/app:v1", &reg.skopeo_src_args()),
        "inspect",
        Some(&reg),
    );
    assert_eq!(raw, index_bytes(&image));
    assert!(
        reg.token_requests()
            .iter()
            .any(|r| r.status == 200 && !r.granted.is_empty())
    );
}

#[test]
fn token_server_answers_both_fields_and_anonymous_pull_is_pull_only() {
    let reg = TestRegistry::token(TokenConfig {
        anonymous_pull: true,
        expires_in: 7,
        ..TokenConfig::default()
    });
    let token_addr = reg.token_server().unwrap().addr();
    let path = "/token?service=slipway-test-registry&scope=repository:a/b:pull,push&scope=repository:c:pull";
    let (status, _, body) = Raw::connect(token_addr)
        .request("GET", path, &[], Body::None)
        .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["token"], v["access_token"]);
    assert_eq!(v["expires_in"], 7);
    let last = reg.token_requests().pop().unwrap();
    assert!(!last.had_credentials);
    assert_eq!(
        last.scopes,
        ["repository:a/b:pull,push", "repository:c:pull"]
    );
    assert!(
        last.granted.iter().all(|a| a.actions == ["pull"]),
        "{last:?}"
    );

    // The anonymous token really is pull-only at the registry: a push is refused.
    let token = v["token"].as_str().unwrap().to_string();
    let auth = format!("Bearer {token}");
    let (status, _, _) = Raw::connect(reg.addr())
        .request(
            "POST",
            "/v2/a/b/blobs/uploads/",
            &[("Authorization", &auth)],
            Body::None,
        )
        .unwrap();
    assert_eq!(status, 401, "a pull-only token started an upload");
    // And accepted for what it grants (the repository is empty: 404, not 401).
    let (status, _, _) = Raw::connect(reg.addr())
        .request(
            "GET",
            "/v2/a/b/tags/list",
            &[("Authorization", &auth)],
            Body::None,
        )
        .unwrap();
    assert_eq!(status, 404, "registry log:\n{}", reg.log());

    // The OAuth2 form (POST, password grant) works too.
    let c = reg.credentials().unwrap();
    let form = format!(
        "grant_type=password&service=slipway-test-registry&scope=repository%3Aa%2Fb%3Apush&username={}&password={}",
        c.username, c.password
    );
    let (status, _, body) = Raw::connect(token_addr)
        .request(
            "POST",
            "/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Body::Bytes(form.into_bytes()),
        )
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let last = reg.token_requests().pop().unwrap();
    assert_eq!(
        (last.had_credentials, last.grant_type.as_deref()),
        (true, Some("password"))
    );
}

#[test]
fn the_token_server_injects_faults_too() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 8);
    let reg = TestRegistry::token(TokenConfig::default());
    let server = reg.token_server().unwrap();
    server.set_faults(
        Faults::fail_all()
            .kinds(&[FaultKind::Unavailable])
            .retry_after(3),
    );
    let path = "/token?service=slipway-test-registry&scope=repository:x:pull";
    let (status, h, _) = Raw::connect(server.addr())
        .request("GET", path, &[], Body::None)
        .unwrap();
    assert_eq!(
        (status, header(&h, "Retry-After").as_deref()),
        (503, Some("3"))
    );
    let out = push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args());
    assert!(!out.status.success(), "pushed without a token");
    let requests = reg.token_requests();
    assert!(requests.len() >= 2, "{requests:?}");
    assert!(requests.iter().all(|r| r.status == 503
        && r.fault == Some(FaultKind::Unavailable)
        && r.granted.is_empty()));
    assert_eq!(reg.tag_digest("team/app", "v1"), None);

    // Dropped without an answer.
    server.set_faults(Faults::fail_all().kinds(&[FaultKind::DropRequest]));
    assert!(matches!(
        Raw::connect(server.addr()).outcome(path),
        Outcome::Closed
    ));
    assert_eq!(reg.token_requests().pop().unwrap().status, 0);

    // Back to normal: the push goes through.
    server.set_faults(Faults::none());
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
}

#[test]
fn tokens_with_a_short_lifetime_really_expire_at_the_registry() {
    // exp = now - 57 s; distribution allows 60 s of leeway: ~3 s of validity.
    let reg = TestRegistry::token(TokenConfig {
        expires_in: 1,
        lifetime: Some(-57),
        ..TokenConfig::default()
    });
    let c = reg.credentials().unwrap().clone();
    let basic = format!("Basic {}", b64(&c.user_colon_password()));
    let (status, _, body) = Raw::connect(reg.token_server().unwrap().addr())
        .request(
            "GET",
            "/token?service=slipway-test-registry&scope=repository:x:pull",
            &[("Authorization", &basic)],
            Body::None,
        )
        .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let auth = format!("Bearer {}", v["token"].as_str().unwrap());
    let get = || {
        Raw::connect(reg.addr())
            .request(
                "GET",
                "/v2/x/tags/list",
                &[("Authorization", &auth)],
                Body::None,
            )
            .unwrap()
            .0
    };
    assert_eq!(
        get(),
        404,
        "a fresh token was refused; registry log:\n{}",
        reg.log()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while get() != 401 {
        assert!(Instant::now() < deadline, "the token never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_transparent_proxy_forwards_skopeo_and_counts_what_it_sends() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 4);
    let reg = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&reg, Faults::none());
    let insecure = strings(&["--dest-tls-verify=false"]);
    ok(
        push(&image, &proxy.host(), "team/app:v1", &insecure),
        "push through the proxy",
        Some(&reg),
    );
    let c = proxy.counters();
    assert_eq!(c.total_faults(), 0);
    // 2 platform manifests and the index.
    assert_eq!(c.kind(RequestKind::ManifestPut), 3, "{c:?}");
    // Every config and layer byte went through the proxy, once: the uploads
    // followed the registry's Locations, which point at the proxy.
    assert_eq!(c.blob_upload_bytes, image.blob_bytes(), "{c:?}");
    assert!(
        c.kind(RequestKind::UploadPut) >= image.blobs.len() as u64,
        "{c:?}"
    );
    assert_eq!(c.requests, proxy.requests().len() as u64);
    assert_eq!(
        reg.tag_digest("team/app", "v1"),
        Some(image.index_digest.clone())
    );

    // A re-push sends no blob bytes.
    proxy.reset();
    ok(
        push(&image, &proxy.host(), "team/app:v1", &insecure),
        "re-push",
        Some(&reg),
    );
    let c = proxy.counters();
    assert_eq!(c.blob_upload_bytes, 0, "{c:?}");
    assert!(
        c.kind(RequestKind::BlobHead) <= image.blobs.len() as u64,
        "{c:?}"
    );

    // Reads go through it too.
    proxy.reset();
    let raw = ok(
        inspect_raw(
            &proxy.host(),
            "team/app:v1",
            &strings(&["--tls-verify=false"]),
        ),
        "inspect",
        Some(&reg),
    );
    assert_eq!(raw, index_bytes(&image));
    let c = proxy.counters();
    assert!(
        c.kind(RequestKind::ManifestGet) >= 1 && c.method("GET") >= 1,
        "{c:?}"
    );
}

#[test]
fn the_proxy_forwards_chunked_uploads_on_one_kept_alive_connection() {
    let reg = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&reg, Faults::none());
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let digest = sha256(&data);
    let mut conn = Raw::connect(proxy.addr());
    let host = proxy.host();
    let h = [("Host", host.as_str())];
    let (status, headers, _) = conn
        .request("POST", "/v2/chunky/blobs/uploads/", &h, Body::None)
        .unwrap();
    assert_eq!(status, 202);
    let location = header(&headers, "Location").unwrap();
    assert!(
        location.contains(&host),
        "Location {location} does not point at the proxy"
    );
    let path = location.split_once(&host).unwrap().1.to_string();
    let chunks: Vec<Vec<u8>> = data.chunks(30_000).map(<[u8]>::to_vec).collect();
    let (status, headers, _) = conn
        .request("PATCH", &path, &h, Body::Chunked(chunks))
        .unwrap();
    assert_eq!(status, 202, "registry log:\n{}", reg.log());
    assert_eq!(header(&headers, "Range").as_deref(), Some("0-99999"));
    let next = header(&headers, "Location").unwrap();
    let put = format!("{}&digest={digest}", next.split_once(&host).unwrap().1);
    let (status, _, _) = conn
        .request("PUT", &put, &h, Body::Bytes(Vec::new()))
        .unwrap();
    assert_eq!(status, 201);
    let blob = format!("/v2/chunky/blobs/{digest}");
    let (status, headers, body) = conn.request("HEAD", &blob, &h, Body::None).unwrap();
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(
        header(&headers, "Content-Length").as_deref(),
        Some("100000")
    );
    let (status, _, body) = conn.request("GET", &blob, &h, Body::None).unwrap();
    assert_eq!(status, 200);
    assert!(body == data, "blob came back different");

    let c = proxy.counters();
    assert_eq!(c.connections, 1, "keep-alive was not kept: {c:?}");
    assert_eq!(c.requests, 5);
    assert_eq!(c.request_body_bytes, 100_000);
    assert_eq!(c.blob_upload_bytes, 100_000);
    assert_eq!(c.kind(RequestKind::UploadPatch), 1);
    assert_eq!(c.kind(RequestKind::BlobHead), 1);
    assert_eq!(c.kind(RequestKind::BlobGet), 1);
    assert_eq!(
        std::fs::metadata(reg.blob_path(&digest)).unwrap().len(),
        100_000
    );

    // Counters reset.
    proxy.reset();
    assert_eq!(proxy.counters(), Default::default());
}

/// What distribution 2.8 does with interrupted chunked uploads, which a
/// resuming client must handle: after a 503 the session resumes from its
/// Range; after a PATCH cut mid-body the session is dead (the registry kept
/// the bytes but the client's `_state` still has the old offset), so the
/// client has to start a new upload.
#[test]
fn interrupted_uploads_resume_or_restart() {
    let reg = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&reg, Faults::none());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 253) as u8).collect();
    let digest = sha256(&data);
    let host = proxy.host();
    let rel = |location: String| location.split_once(&host).unwrap().1.to_string();
    let mut conn = Raw::connect(proxy.addr());
    let (status, h, _) = conn
        .request("POST", "/v2/resume/blobs/uploads/", &[], Body::None)
        .unwrap();
    assert_eq!(status, 202);
    let (status, h, _) = conn
        .request(
            "PATCH",
            &rel(header(&h, "Location").unwrap()),
            &[("Content-Range", "0-49999")],
            Body::Bytes(data[..50_000].to_vec()),
        )
        .unwrap();
    assert_eq!(
        (status, header(&h, "Range").as_deref()),
        (202, Some("0-49999"))
    );
    let after_first = rel(header(&h, "Location").unwrap());

    // A 503 on the next chunk: nothing reached the registry; resume from Range.
    proxy.set_faults(
        Faults::fail_all()
            .kinds(&[FaultKind::Unavailable])
            .only(&[RequestKind::UploadPatch]),
    );
    let (status, _, _) = conn
        .request(
            "PATCH",
            &after_first,
            &[("Content-Range", "50000-199999")],
            Body::Bytes(data[50_000..].to_vec()),
        )
        .unwrap();
    assert_eq!(status, 503);
    let (status, h, _) = conn.request("GET", &after_first, &[], Body::None).unwrap();
    assert_eq!(
        (status, header(&h, "Range").as_deref()),
        (204, Some("0-49999")),
        "{}",
        reg.log()
    );

    // Cut mid-body: the registry keeps what arrived, but the session is lost.
    proxy.set_faults(
        Faults::fail_all()
            .kinds(&[FaultKind::CutRequestBody])
            .only(&[RequestKind::UploadPatch]),
    );
    let resume = rel(header(&h, "Location").unwrap());
    let cut = Raw::connect(proxy.addr()).request(
        "PATCH",
        &resume,
        &[("Content-Range", "50000-199999")],
        Body::Bytes(data[50_000..].to_vec()),
    );
    assert!(
        cut.is_err(),
        "the cut PATCH was answered: {:?}",
        cut.map(|r| r.0)
    );
    assert_eq!(
        proxy.counters().faults.get(&FaultKind::CutRequestBody),
        Some(&1)
    );
    proxy.set_faults(Faults::none());
    // The registry notices the cut asynchronously; ask once it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reg.log().contains("client disconnected during blob PATCH") {
        assert!(
            Instant::now() < deadline,
            "the registry never saw the cut:\n{}",
            reg.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut conn = Raw::connect(proxy.addr());
    let (status, _, body) = conn.request("GET", &resume, &[], Body::None).unwrap();
    assert_eq!(status, 404, "{}", reg.log());
    assert!(String::from_utf8_lossy(&body).contains("BLOB_UPLOAD_INVALID"));

    // A PATCH whose answer is lost kills the session the same way.
    let (_, h, _) = conn
        .request("POST", "/v2/resume/blobs/uploads/", &[], Body::None)
        .unwrap();
    let session = rel(header(&h, "Location").unwrap());
    proxy.set_faults(
        Faults::fail_all()
            .kinds(&[FaultKind::DropResponse])
            .only(&[RequestKind::UploadPatch]),
    );
    let lost = conn.request("PATCH", &session, &[], Body::Bytes(data[..1000].to_vec()));
    assert!(lost.is_err());
    proxy.set_faults(Faults::none());
    let mut conn = Raw::connect(proxy.addr());
    let (status, _, _) = conn.request("GET", &session, &[], Body::None).unwrap();
    assert_eq!(status, 404, "{}", reg.log());

    // Starting over works.
    let (_, h, _) = conn
        .request("POST", "/v2/resume/blobs/uploads/", &[], Body::None)
        .unwrap();
    let (status, h, _) = conn
        .request(
            "PATCH",
            &rel(header(&h, "Location").unwrap()),
            &[],
            Body::Bytes(data.clone()),
        )
        .unwrap();
    assert_eq!(status, 202);
    let put = format!("{}&digest={digest}", rel(header(&h, "Location").unwrap()));
    let (status, _, _) = conn
        .request("PUT", &put, &[], Body::Bytes(Vec::new()))
        .unwrap();
    assert_eq!(status, 201, "{}", reg.log());
    assert!(std::fs::read(reg.blob_path(&digest)).unwrap() == data);
}

#[test]
fn the_proxy_answers_expect_100_continue_itself() {
    let reg = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&reg, Faults::none());
    let data = b"monolithic upload body".to_vec();
    let digest = sha256(&data);
    let mut conn = Raw::connect(proxy.addr());
    let (status, headers, _) = conn
        .request("POST", "/v2/expect/blobs/uploads/", &[], Body::None)
        .unwrap();
    assert_eq!(status, 202);
    let location = header(&headers, "Location").unwrap();
    let path = format!(
        "{}&digest={digest}",
        location.split_once(&proxy.host()).unwrap().1
    );
    // Head only, then wait for the interim answer before sending the body.
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        proxy.host(),
        data.len()
    );
    conn.w.write_all(head.as_bytes()).unwrap();
    let mut interim = String::new();
    conn.r.read_line(&mut interim).unwrap();
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim:?}");
    let mut blank = String::new();
    conn.r.read_line(&mut blank).unwrap();
    conn.w.write_all(&data).unwrap();
    let mut status = String::new();
    conn.r.read_line(&mut status).unwrap();
    assert!(
        status.starts_with("HTTP/1.1 201"),
        "{status:?}\n{}",
        reg.log()
    );
    assert_eq!(std::fs::read(reg.blob_path(&digest)).unwrap(), data);
    assert_eq!(proxy.counters().blob_upload_bytes, data.len() as u64);
}

#[test]
fn fail_everything_fails_every_request_and_leaves_the_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 5);
    let other = write_test_layout(&tmp.path().join("other"), "v1", &["linux/amd64"], 1024, 55);
    let reg = TestRegistry::plain();
    let proxy = FaultProxy::in_front_of(&reg, Faults::none());
    let insecure = strings(&["--dest-tls-verify=false"]);
    ok(
        push(&image, &proxy.host(), "team/app:v1", &insecure),
        "push",
        Some(&reg),
    );

    proxy.set_faults(Faults::fail_all().retry_after(1));
    proxy.reset();
    let out = push(&other, &proxy.host(), "team/app:v1", &insecure);
    assert!(
        !out.status.success(),
        "a push succeeded through a proxy that fails everything"
    );
    let out = inspect_raw(
        &proxy.host(),
        "team/app:v1",
        &strings(&["--tls-verify=false"]),
    );
    assert!(!out.status.success());
    let requests = proxy.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.fault.is_some()), "{requests:?}");
    assert_eq!(proxy.counters().total_faults(), requests.len() as u64);
    assert_eq!(
        reg.tag_digest("team/app", "v1"),
        Some(image.index_digest.clone()),
        "the tag moved"
    );

    // Raw requests: none gets a real answer.
    for _ in 0..20 {
        let outcome = Raw::connect(proxy.addr()).outcome("/v2/");
        assert!(!matches!(outcome, Outcome::Answered(200)), "{outcome:?}");
    }
}

#[test]
fn one_in_four_faults_really_happen_in_each_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 6);
    let reg = TestRegistry::plain();
    let direct = strings(&["--dest-tls-verify=false"]);
    ok(
        push(&image, &reg.host(), "team/app:v1", &direct),
        "push",
        Some(&reg),
    );
    let (layer, _) = image.blobs[1].clone();

    let proxy = FaultProxy::in_front_of(&reg, Faults::one_in(4, 2024).retry_after(2));
    let blob = format!("/v2/team/app/blobs/{layer}");
    let n = 200;
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..n {
        let outcome = Raw::connect(proxy.addr()).outcome(&blob);
        *seen.entry(format!("{outcome:?}")).or_insert(0u64) += 1;
    }
    let c = proxy.counters();
    eprintln!("client saw {seen:?}\nproxy counted {c:?}");
    assert_eq!(c.requests, n);
    let faults = c.total_faults();
    assert!(
        (25..=80).contains(&faults),
        "{faults} faults in {n} requests at 1 in 4: {c:?}"
    );
    // What the client saw matches what the proxy says it did.
    let count = |k| c.faults.get(&k).copied().unwrap_or(0);
    let got = |s: &str| seen.get(s).copied().unwrap_or(0);
    assert_eq!(
        got("Answered(503)"),
        count(FaultKind::Unavailable),
        "{seen:?} {c:?}"
    );
    assert_eq!(
        got("Closed"),
        count(FaultKind::DropRequest) + count(FaultKind::DropResponse),
        "{seen:?} {c:?}"
    );
    assert_eq!(got("CutHead"), count(FaultKind::CutHead), "{seen:?} {c:?}");
    assert_eq!(
        got("TruncatedBody"),
        count(FaultKind::TruncateBody),
        "{seen:?} {c:?}"
    );
    assert_eq!(got("Answered(200)"), n - faults, "{seen:?}");
    // GETs have no body to cut: CutRequestBody becomes DropRequest.
    for k in FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::CutRequestBody)
    {
        assert!(count(k) > 0, "{k:?} never happened: {c:?}");
    }
    // Injected 503s carry Retry-After.
    let only503 = FaultProxy::in_front_of(
        &reg,
        Faults::fail_all()
            .kinds(&[FaultKind::Unavailable])
            .retry_after(2),
    );
    let (status, h, _) = Raw::connect(only503.addr())
        .request("GET", "/v2/", &[], Body::None)
        .unwrap();
    assert_eq!(
        (status, header(&h, "Retry-After").as_deref()),
        (503, Some("2"))
    );

    // A real client meets them too (whether it survives is not ours to test).
    proxy.reset();
    let _ = push(&image, &proxy.host(), "team/copy:v1", &direct);
    let c = proxy.counters();
    eprintln!("skopeo through 1-in-4 faults: {c:?}");
    assert!(
        c.requests > 0 && c.total_faults() > 0,
        "skopeo met no fault: {c:?}"
    );

    // The same seed fails the same request numbers.
    let again: Vec<_> = (0..n)
        .map(|i| Faults::one_in(4, 2024).decide(i, RequestKind::BlobGet))
        .collect();
    assert_eq!(again.iter().filter(|f| f.is_some()).count() as u64, faults);
}

#[test]
fn a_corrupted_blob_is_served_with_its_old_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layout(tmp.path(), 7);
    let reg = TestRegistry::plain();
    ok(
        push(&image, &reg.host(), "team/app:v1", &reg.skopeo_dest_args()),
        "push",
        Some(&reg),
    );
    let (layer, size) = image.blobs[1].clone();
    reg.corrupt_blob(&layer);
    let (status, headers, body) = Raw::connect(reg.addr())
        .request(
            "GET",
            &format!("/v2/team/app/blobs/{layer}"),
            &[],
            Body::None,
        )
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body.len() as u64, size);
    assert_eq!(
        header(&headers, "Docker-Content-Digest"),
        Some(layer.clone())
    );
    assert_ne!(sha256(&body), layer, "the blob was not corrupted");
}

#[test]
fn credentials_never_show_their_password_in_debug() {
    let c = Credentials::new("u", "hunter2");
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.user_colon_password(), "u:hunter2");
}

// ---- a raw HTTP/1.1 client, to see exactly what comes off the wire ----

enum Body {
    None,
    Bytes(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

#[derive(Debug)]
enum Outcome {
    Answered(u16),
    /// Closed before any response byte.
    Closed,
    /// Closed inside the response head.
    CutHead,
    /// Full head, fewer body bytes than its Content-Length.
    TruncatedBody,
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
    addr: SocketAddr,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Raw {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
            addr,
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Body,
    ) -> std::io::Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Host")) {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match body {
            Body::None if method == "GET" || method == "HEAD" => {}
            Body::None => head.push_str("Content-Length: 0\r\n"),
            Body::Bytes(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
            Body::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        head.push_str("\r\n");
        self.w.write_all(head.as_bytes())?;
        match body {
            Body::None => {}
            Body::Bytes(b) => self.w.write_all(b)?,
            Body::Chunked(chunks) => {
                for c in chunks {
                    write!(self.w, "{:x}\r\n", c.len())?;
                    self.w.write_all(c)?;
                    self.w.write_all(b"\r\n")?;
                }
                self.w.write_all(b"0\r\n\r\n")?;
            }
        }
        self.w.flush()
    }

    /// Send a request and read the whole response.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> std::io::Result<Response> {
        self.send(method, path, headers, &body)?;
        let mut status_line = String::new();
        self.r.read_line(&mut status_line)?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut hs = Vec::new();
        loop {
            let mut l = String::new();
            self.r.read_line(&mut l)?;
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            hs.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut body = Vec::new();
        if method != "HEAD" {
            if header(&hs, "Transfer-Encoding").is_some_and(|t| t.contains("chunked")) {
                loop {
                    let mut size = String::new();
                    self.r.read_line(&mut size)?;
                    let n = usize::from_str_radix(size.trim(), 16).unwrap();
                    let mut chunk = vec![0; n + 2];
                    self.r.read_exact(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    body.extend(&chunk[..n]);
                }
            } else if let Some(n) = header(&hs, "Content-Length") {
                body = vec![0; n.parse().unwrap()];
                self.r.read_exact(&mut body)?;
            }
        }
        Ok((status, hs, body))
    }

    /// One GET on this (fresh) connection, classified by how it ended.
    fn outcome(mut self, path: &str) -> Outcome {
        self.send("GET", path, &[("Connection", "close")], &Body::None)
            .unwrap();
        let mut all = Vec::new();
        let _ = self.r.read_to_end(&mut all);
        if all.is_empty() {
            return Outcome::Closed;
        }
        let text = String::from_utf8_lossy(&all);
        let Some(end) = text.find("\r\n\r\n") else {
            return Outcome::CutHead;
        };
        let status: u16 = text[9..12].parse().unwrap();
        let length = text[..end].lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        });
        match length {
            Some(n) if all.len() - (end + 4) < n => Outcome::TruncatedBody,
            _ => Outcome::Answered(status),
        }
    }
}

fn header(h: &[(String, String)], name: &str) -> Option<String> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(data);
    format!("sha256:{}", base16ct::lower::encode_string(&d))
}

fn b64(s: &str) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(s.as_bytes())
}

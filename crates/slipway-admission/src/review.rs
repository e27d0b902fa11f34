//! `admission.k8s.io/v1` AdmissionReview: reading the request, finding the
//! container images of the object, and writing the response.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

/// Why a body is not an AdmissionReview we can answer (the server replies 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "the body is a {0}, not an admission.k8s.io/v1 AdmissionReview (register the webhook with admissionReviewVersions: [\"v1\"])"
    )]
    WrongType(String),
    #[error("the AdmissionReview has no `request`, or its `request.uid` is empty")]
    NoRequest,
    #[error("{kind} {at}: {what}")]
    BadObject {
        kind: String,
        at: String,
        what: String,
    },
}

#[derive(Deserialize)]
struct Review {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<RawRequest>,
}

#[derive(Deserialize)]
struct RawRequest {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    kind: GroupVersionKind,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    object: Option<Value>,
}

#[derive(Deserialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// The parts of a request the webhook looks at.
#[derive(Debug)]
pub struct Request {
    pub uid: String,
    pub kind: GroupVersionKind,
    pub namespace: String,
    pub operation: String,
    pub object: Option<Value>,
}

/// One container's image and where it sits in the object (a JSON pointer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    pub pointer: String,
    pub image: String,
}

pub fn parse(body: &[u8]) -> Result<Request, ReviewError> {
    let review: Review =
        serde_json::from_slice(body).map_err(|e| ReviewError::NotJson(e.to_string()))?;
    if review.api_version != "admission.k8s.io/v1" || review.kind != "AdmissionReview" {
        return Err(ReviewError::WrongType(format!(
            "{}/{}",
            if review.api_version.is_empty() {
                "(no apiVersion)"
            } else {
                &review.api_version
            },
            if review.kind.is_empty() {
                "(no kind)"
            } else {
                &review.kind
            }
        )));
    }
    let r = review.request.ok_or(ReviewError::NoRequest)?;
    if r.uid.is_empty() {
        return Err(ReviewError::NoRequest);
    }
    Ok(Request {
        uid: r.uid,
        kind: r.kind,
        namespace: r.namespace,
        operation: r.operation,
        object: r.object,
    })
}

/// Where the pod spec sits in each kind the webhook understands (core and
/// `apps`/`batch` groups); `None` for any other kind.
fn pod_spec_path(kind: &GroupVersionKind) -> Option<&'static [&'static str]> {
    Some(match (kind.group.as_str(), kind.kind.as_str()) {
        ("", "Pod") => &["spec"],
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            &["spec", "template", "spec"]
        }
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// Whether the webhook checks objects of this kind.
pub fn is_workload(kind: &GroupVersionKind) -> bool {
    pod_spec_path(kind).is_some()
}

/// Every container image of `object`: containers, initContainers and
/// ephemeralContainers, in that order. A kind the webhook does not know has
/// none; a known kind with a malformed spec is an error.
pub fn images(kind: &GroupVersionKind, object: &Value) -> Result<Vec<ContainerImage>, ReviewError> {
    let Some(path) = pod_spec_path(kind) else {
        return Ok(vec![]);
    };
    let bad = |at: String, what: &str| ReviewError::BadObject {
        kind: kind.kind.clone(),
        at,
        what: what.to_string(),
    };
    let mut spec = object;
    let mut pointer = String::new();
    for key in path {
        pointer.push('/');
        pointer.push_str(key);
        spec = spec
            .get(key)
            .ok_or_else(|| bad(pointer.clone(), "missing"))?;
    }
    if !spec.is_object() {
        return Err(bad(pointer, "is not an object"));
    }
    let mut out = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get(list) else {
            continue;
        };
        if containers.is_null() {
            continue;
        }
        let containers = containers
            .as_array()
            .ok_or_else(|| bad(format!("{pointer}/{list}"), "is not a list"))?;
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{pointer}/{list}/{i}/image");
            let image = c
                .get("image")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(at.clone(), "has no image string"))?;
            out.push(ContainerImage {
                pointer: at,
                image: image.to_string(),
            });
        }
    }
    Ok(out)
}

/// The answer to the review `uid`. A denial carries `code` and `message`;
/// `patch` is a JSONPatch document (sent base64-encoded, patchType JSONPatch).
pub struct Answer {
    pub allowed: bool,
    pub code: u16,
    pub message: String,
    pub patch: Option<Vec<Value>>,
    pub warnings: Vec<String>,
}

pub fn response(uid: &str, answer: &Answer) -> Vec<u8> {
    let mut response = json!({
        "uid": uid,
        "allowed": answer.allowed,
    });
    if !answer.allowed || !answer.message.is_empty() {
        response["status"] = json!({
            "code": answer.code,
            "message": answer.message,
            "reason": if answer.allowed { "" } else { "Forbidden" },
        });
    }
    if let Some(ops) = answer.patch.as_ref().filter(|ops| !ops.is_empty()) {
        let bytes = serde_json::to_vec(ops).unwrap_or_default();
        response["patchType"] = json!("JSONPatch");
        response["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    if !answer.warnings.is_empty() {
        response["warnings"] = json!(answer.warnings);
    }
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gvk(group: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn finds_images_of_each_kind() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x/a:1"}],
            "initContainers": [{"name": "i", "image": "x/i:1"}],
            "ephemeralContainers": [{"name": "e", "image": "x/e@sha256:00"}]}});
        let got = images(&gvk("", "Pod"), &pod).unwrap();
        assert_eq!(
            got.iter().map(|c| c.pointer.as_str()).collect::<Vec<_>>(),
            [
                "/spec/containers/0/image",
                "/spec/initContainers/0/image",
                "/spec/ephemeralContainers/0/image"
            ]
        );
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c"}]}}}}}});
        assert_eq!(
            images(&gvk("batch", "CronJob"), &cron).unwrap()[0].pointer,
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        );
        let deploy = json!({"spec": {"template": {"spec": {"containers": [{"image": "d"}]}}}});
        for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
            assert_eq!(images(&gvk("apps", kind), &deploy).unwrap()[0].image, "d");
        }
        assert_eq!(images(&gvk("batch", "Job"), &deploy).unwrap().len(), 1);
        // Not a workload: nothing to check.
        assert!(
            images(&gvk("", "ConfigMap"), &json!({}))
                .unwrap()
                .is_empty()
        );
        // A workload without the spec is malformed.
        assert!(matches!(
            images(&gvk("apps", "Deployment"), &json!({"spec": {}})),
            Err(ReviewError::BadObject { .. })
        ));
        assert!(matches!(
            images(
                &gvk("", "Pod"),
                &json!({"spec": {"containers": [{"name": "x"}]}})
            ),
            Err(ReviewError::BadObject { .. })
        ));
    }

    #[test]
    fn rejects_what_is_not_a_review() {
        assert!(matches!(parse(b"{"), Err(ReviewError::NotJson(_))));
        assert!(matches!(
            parse(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}"#),
            Err(ReviewError::WrongType(_))
        ));
        assert_eq!(
            parse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#).unwrap_err(),
            ReviewError::NoRequest
        );
        let r = parse(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"ns","operation":"CREATE","object":{}}}"#).unwrap();
        assert_eq!((r.uid.as_str(), r.namespace.as_str()), ("u", "ns"));
    }

    #[test]
    fn response_shape() {
        let bytes = response(
            "u1",
            &Answer {
                allowed: true,
                code: 200,
                message: String::new(),
                patch: Some(vec![
                    json!({"op": "replace", "path": "/spec/containers/0/image", "value": "a@sha256:1"}),
                ]),
                warnings: vec![],
            },
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["response"]["uid"], "u1");
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap();
        let ops: Value = serde_json::from_slice(&patch).unwrap();
        assert_eq!(ops[0]["value"], "a@sha256:1");
        assert!(v["response"].get("status").is_none());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            if let Ok(r) = parse(&bytes)
                && let Some(o) = &r.object
            {
                let _ = images(&r.kind, o);
            }
        }
    }
}

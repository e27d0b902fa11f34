//! The scanner on hand-written manifests covering the YAML forms images are
//! written in: which values it finds, that it finds nothing else, and that
//! rewriting changes those bytes only.

use slipway_resolve::scan::render;
use slipway_resolve::{ScanError, Style, find_images, rewrite, splice};

const MIXED: &str = r#"# a leading comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "ghcr.io/acme/migrate:2.0"   # double-quoted, comment after
      containers:
      - name: web
        image: nginx:1.25
        env: [{name: IMAGE, value: "not-an-image:1"}]
      - {name: sidecar, image: 'registry.example.com:5000/team/envoy:v1.29.0', ports: [{containerPort: 80}]}
---
# a CronJob, with its pods two levels further down
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            image: &job busybox   # anchored
          restartPolicy: Never
...
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload}
data:
  image: "example.com/ignored:1"
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: canary-demo
spec:
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}]
  template:
    spec:
      containers:
      - name: app
        image: !!str argoproj/rollouts-demo:blue
      ephemeralContainers:
      - name: debug
        image: busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
  spec: {containers: [{name: c, image: alpine}]}
"#;

#[test]
fn finds_every_workload_image_and_nothing_else() {
    let sites = find_images(MIXED).unwrap();
    let found: Vec<(&str, &str, Style, &str)> = sites
        .iter()
        .map(|s| (s.kind.as_str(), s.path.as_str(), s.style, s.value.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "Deployment",
                "spec.template.spec.initContainers[0].image",
                Style::DoubleQuoted,
                "ghcr.io/acme/migrate:2.0"
            ),
            (
                "Deployment",
                "spec.template.spec.containers[0].image",
                Style::Plain,
                "nginx:1.25"
            ),
            (
                "Deployment",
                "spec.template.spec.containers[1].image",
                Style::SingleQuoted,
                "registry.example.com:5000/team/envoy:v1.29.0"
            ),
            (
                "CronJob",
                "spec.jobTemplate.spec.template.spec.containers[0].image",
                Style::Plain,
                "busybox"
            ),
            (
                "Rollout",
                "spec.template.spec.containers[0].image",
                Style::Plain,
                "argoproj/rollouts-demo:blue"
            ),
            (
                "Rollout",
                "spec.template.spec.ephemeralContainers[0].image",
                Style::Plain,
                "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            ),
            (
                "Pod",
                "items[0].spec.containers[0].image",
                Style::Plain,
                "alpine"
            ),
        ]
    );
    // Each range covers exactly the scalar's text, quotes included.
    let texts: Vec<&str> = sites.iter().map(|s| &MIXED[s.range.clone()]).collect();
    assert_eq!(texts[0], "\"ghcr.io/acme/migrate:2.0\"");
    assert_eq!(texts[2], "'registry.example.com:5000/team/envoy:v1.29.0'");
    assert_eq!(texts[3], "busybox");
    assert_eq!(texts[4], "argoproj/rollouts-demo:blue");
    assert_eq!((sites[1].line, sites[1].column), (13, 16));
    assert_eq!(sites[0].name.as_deref(), Some("web"));
}

#[test]
fn rewriting_changes_the_image_bytes_only() {
    let sites = find_images(MIXED).unwrap();
    let out = rewrite(MIXED, &sites, |s| Some(format!("{}-X", s.value)));
    let expected = MIXED
        .replace(
            "\"ghcr.io/acme/migrate:2.0\"",
            "\"ghcr.io/acme/migrate:2.0-X\"",
        )
        .replace("image: nginx:1.25", "image: nginx:1.25-X")
        .replace(
            "'registry.example.com:5000/team/envoy:v1.29.0'",
            "'registry.example.com:5000/team/envoy:v1.29.0-X'",
        )
        .replace("&job busybox ", "&job busybox-X ")
        .replace(
            "!!str argoproj/rollouts-demo:blue",
            "!!str argoproj/rollouts-demo:blue-X",
        )
        .replace(
            "0000000000000000000000000000000000000000000000000000000000000000\n",
            "0000000000000000000000000000000000000000000000000000000000000000-X\n",
        )
        .replace("image: alpine}", "image: alpine-X}");
    assert_eq!(out, expected);
    // Identity changes nothing at all.
    assert_eq!(rewrite(MIXED, &sites, |s| Some(s.value.clone())), MIXED);
}

#[test]
fn values_that_would_not_read_back_are_quoted() {
    let src = "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: a}]}\n";
    let sites = find_images(src).unwrap();
    let out = rewrite(src, &sites, |_| Some("x, y".into()));
    assert_eq!(
        out,
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: \"x, y\"}]}\n"
    );
    let single = "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: 'a'}]}\n";
    let sites = find_images(single).unwrap();
    assert_eq!(
        rewrite(single, &sites, |_| Some("it's".into())),
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: 'it''s'}]}\n"
    );
}

#[test]
fn crlf_bom_and_non_ascii_keep_their_bytes() {
    let src = "\u{feff}# é\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: \"ünï\"}\r\nspec:\r\n  containers:\r\n  - image: \"a/b:1\"\r\n";
    let sites = find_images(src).unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(&src[sites[0].range.clone()], "\"a/b:1\"");
    let out = rewrite(src, &sites, |_| Some("a/b@sha256:1".into()));
    assert_eq!(out, src.replace("\"a/b:1\"", "\"a/b@sha256:1\""));
}

#[test]
fn bad_yaml_names_the_line() {
    let src = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: [unclosed\n";
    match find_images(src) {
        Err(ScanError::Syntax { line, .. }) => assert!(line >= 5, "line {line}"),
        other => panic!("{other:?}"),
    }
    let src = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n   - image: a\n  bad: : :\n";
    assert!(matches!(find_images(src), Err(ScanError::Syntax { .. })));
}

#[test]
fn images_it_cannot_rewrite_in_place_are_refused_by_position() {
    let cases = [
        ("  - image: *img\n", "alias"),
        ("  - image: |\n      a:1\n", "block scalar"),
        ("  - image: \"a\\x3a1\"\n", "escapes"),
        ("  - image: a\n      b\n", "spans lines"),
        ("  - image: {a: b}\n", "not a string"),
        ("  - image: ''\n", "empty"),
    ];
    for (containers, why) in cases {
        let src = format!(
            "x: &img a\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n{containers}"
        );
        match find_images(&src) {
            Err(ScanError::Unrewritable {
                line, path, why: w, ..
            }) => {
                assert_eq!(line, 7, "{src}");
                assert_eq!(path, "spec.containers[0].image");
                assert!(w.contains(why), "{w} / {why}");
            }
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
fn unknown_kinds_and_other_groups_are_left_alone() {
    let src = "apiVersion: example.com/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{image: a}]}}}\n---\napiVersion: v1\nkind: Rollout\nspec: {template: {spec: {containers: [{image: a}]}}}\n---\n- just a list\n---\nplain scalar\n";
    assert!(find_images(src).unwrap().is_empty());
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let src = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        find_images(&src),
        Err(ScanError::TooDeep { .. }) | Err(ScanError::Syntax { .. })
    ));
}

proptest::proptest! {
    #[test]
    fn never_panics_and_identity_keeps_bytes(s in "[a-z:&*!'\"\\[\\]{}#|>, \n-]{0,200}") {
        let doc = format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: {s}\n");
        if let Ok(sites) = find_images(&doc) {
            // Each range holds exactly its value's rendering.
            let same: Vec<_> = sites.iter().map(|s| (s.range.clone(), render(s.style, &s.value))).collect();
            proptest::prop_assert_eq!(splice(&doc, &same), doc.clone());
            proptest::prop_assert_eq!(rewrite(&doc, &sites, |s| Some(s.value.clone())), doc);
        }
        let _ = find_images(&s);
    }
}
